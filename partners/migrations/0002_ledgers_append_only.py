"""Triggers: the deposit ledger and the audit trail refuse UPDATE and DELETE; a deposit
movement may not make the money held negative nor change currency."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
    ]

    operations = [
        run_files(
            ["0002_ledgers_append_only.pg.sql"],
            ["0002_ledgers_append_only.reverse.pg.sql"],
        ),
    ]
