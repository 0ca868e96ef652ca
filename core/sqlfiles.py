"""SQL kept in files beside the migrations that load them, as django-hordak does: a migration
names its files (`NNNN_name.pg.sql`, and `NNNN_name.reverse.pg.sql` to undo it) and runs them
whole. A file, once a migration loads it, never changes: a later change is a new migration with
a file of its own."""

from __future__ import annotations

from pathlib import Path

from django.db import migrations


def run_files(directory: Path, forward: list[str], reverse: list[str]) -> migrations.RunSQL:
    """RunSQL of the files `forward` in `directory`, undone by the files `reverse` (in order)."""
    return migrations.RunSQL(
        sql=[(directory / name).read_text() for name in forward],
        reverse_sql=[(directory / name).read_text() for name in reverse],
    )
