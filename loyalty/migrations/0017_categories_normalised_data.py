"""Existing categories in the one form the rules compare (core.text): campaigns' lists, and the
orders whose categories may differ from it (upper-case letters, non-ASCII text, double spaces or
escapes; the others were already lower-cased and trimmed when they arrived)."""

import json

from django.db import migrations

from core import text

CANDIDATES = r"[A-Z]|[^[:ascii:]]|\s\s|\\"


def normalise(apps, schema_editor):
    Campaign = apps.get_model("loyalty", "Campaign")
    for campaign in Campaign.objects.all():
        normalised = text.category_text(campaign.categories)
        if normalised != campaign.categories:
            Campaign.objects.filter(pk=campaign.pk).update(categories=normalised)
    connection = schema_editor.connection
    with connection.cursor() as read, connection.cursor() as write:
        read.execute(
            "SELECT id, categories FROM loyalty_order WHERE categories::text ~ %s ORDER BY id",
            [CANDIDATES],
        )
        while rows := read.fetchmany(1000):
            changes = [
                (json.dumps(normalised), pk)
                for pk, listed in rows
                if (normalised := text.categories(str(c) for c in listed or [])) != listed
            ]
            if changes:
                write.executemany(
                    "UPDATE loyalty_order SET categories = %s::jsonb WHERE id = %s", changes
                )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0016_categories_normalised"),
    ]

    operations = [
        # The old forms are not kept: normalising again is all a reverse could do.
        migrations.RunPython(normalise, migrations.RunPython.noop),
    ]
