"""Points earned and reversed become outbox events: the earning engine's write records them in
its own statement, through one function that shapes their payload (the SQL file says how)."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0023_earning_snapshot_own_version"),
        ("core", "0006_outbox_emit_function"),
    ]

    operations = [
        run_files(["0024_points_events.pg.sql"], ["0024_points_events.reverse.pg.sql"]),
    ]
