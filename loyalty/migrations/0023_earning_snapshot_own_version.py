"""The earning engine's snapshot returns the engine's own version (core.cache Scope.EARNING)
instead of the program-wide one: only a change of what the engine reads sends it back to read
the program again."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0022_tierrunchunk_follow_ups_through_the_outbox"),
    ]

    operations = [
        run_files(
            ["0023_earning_snapshot_own_version.pg.sql"],
            ["0023_earning_snapshot_own_version.reverse.pg.sql"],
        ),
    ]
