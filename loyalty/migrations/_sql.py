"""The loyalty migrations' SQL files (core.sqlfiles)."""

from __future__ import annotations

from pathlib import Path

from django.db import migrations

from core import sqlfiles

HERE = Path(__file__).resolve().parent


def run_files(forward: list[str], reverse: list[str]) -> migrations.RunSQL:
    return sqlfiles.run_files(HERE, forward, reverse)
