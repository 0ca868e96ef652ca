"""One function records events (the SQL file says how), for Python and SQL writers alike."""

from pathlib import Path

from django.db import migrations

from core import sqlfiles

NAME = "0006_outbox_emit_function"


class Migration(migrations.Migration):
    dependencies = [("core", "0005_events_handed_out_by_the_dispatcher")]

    operations = [
        sqlfiles.run_files(
            Path(__file__).resolve().parent, [f"{NAME}.pg.sql"], [f"{NAME}.reverse.pg.sql"]
        )
    ]
