"""A trigger refuses UPDATE and DELETE on the point entries (append-only)."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0003_ledger_lots_rules_events"),
    ]

    operations = [
        run_files(
            ["0004_ledger_append_only_trigger.pg.sql"],
            ["0004_ledger_append_only_trigger.reverse.pg.sql"],
        ),
    ]
