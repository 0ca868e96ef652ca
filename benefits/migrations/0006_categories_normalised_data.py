"""Brands' and rewards' categories in the one form the rules compare (core.text); a list that
would be longer than its column once normalised is left as typed and named in the output
(loyalty's 0017 says how)."""

from django.db import migrations

from core.normalise import normalise_lists


def normalise(apps, schema_editor):
    for name in ("Brand", "Reward"):
        normalise_lists(apps.get_model("benefits", name))


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0005_categories_normalised"),
    ]

    operations = [
        # The old forms are not kept: normalising again is all a reverse could do.
        migrations.RunPython(normalise, migrations.RunPython.noop),
    ]
