"""Brands' and rewards' categories in the one form the rules compare (core.text)."""

from django.db import migrations

from core import text


def normalise(apps, schema_editor):
    for name in ("Brand", "Reward"):
        model = apps.get_model("benefits", name)
        for row in model.objects.all():
            normalised = text.category_text(row.categories)
            if normalised != row.categories:
                model.objects.filter(pk=row.pk).update(categories=normalised)


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0005_categories_normalised"),
    ]

    operations = [
        # The old forms are not kept: normalising again is all a reverse could do.
        migrations.RunPython(normalise, migrations.RunPython.noop),
    ]
