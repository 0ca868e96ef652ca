"""Existing categories in the one form the rules compare (core.text): campaigns' lists, and the
orders whose categories may differ from it (upper-case letters, non-ASCII text, double spaces or
escapes; the others were already lower-cased and trimmed when they arrived).

Orders are rewritten in batches of ids, each batch committed on its own (normalising is
idempotent, so a run stopped half-way is simply run again), reading one batch at a time and
writing it in one statement. A campaign's list that would be longer than its column once
normalised (the separator becomes ", ", and case folding can lengthen a name) is left as it
was and named in the output, to be shortened in the admin."""

import json

from django.db import migrations

from core import text
from core.normalise import normalise_lists

CANDIDATES = r"[A-Z]|[^[:ascii:]]|\s\s|\\"
BATCH = 1000


def normalise(apps, schema_editor):
    normalise_lists(apps.get_model("loyalty", "Campaign"))
    connection = schema_editor.connection
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, categories FROM loyalty_order"
                " WHERE id > %s AND categories::text ~ %s ORDER BY id LIMIT %s",
                [last, CANDIDATES, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            changes = []
            for pk, stored in rows:
                # Django reads jsonb as its text: decoded here, or each character would be
                # taken for a category
                listed = json.loads(stored) if isinstance(stored, str) else stored
                normalised = text.categories(str(c) for c in listed or [])
                if normalised != listed:
                    changes.append((pk, json.dumps(normalised)))
            if changes:
                cursor.execute(
                    "UPDATE loyalty_order o SET categories = c.categories::jsonb"
                    " FROM unnest(%s::bigint[], %s::text[]) AS c(id, categories)"
                    " WHERE o.id = c.id",
                    [[pk for pk, _ in changes], [value for _, value in changes]],
                )


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own (see above)

    dependencies = [
        ("loyalty", "0016_categories_normalised"),
    ]

    operations = [
        # The old forms are not kept: normalising again is all a reverse could do.
        migrations.RunPython(normalise, migrations.RunPython.noop),
    ]
