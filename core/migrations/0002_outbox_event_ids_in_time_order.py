"""The function that gives outbox events their ids, in time order (the SQL file says why)."""

from pathlib import Path

from django.db import migrations

from core import sqlfiles

NAME = "0002_outbox_event_ids_in_time_order"


class Migration(migrations.Migration):
    dependencies = [("core", "0001_outbox")]

    operations = [
        sqlfiles.run_files(
            Path(__file__).resolve().parent, [f"{NAME}.pg.sql"], [f"{NAME}.reverse.pg.sql"]
        )
    ]
