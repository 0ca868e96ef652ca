"""pytest plugin (`-p tests.embedded_db` in pyproject.toml): with DATABASE_URL unset, the suite
runs on the embedded PostgreSQL server (config/embedded_db.py).

It is loaded before pytest-django reads the settings, starts the server (or finds it running,
e.g. beside `make run`) and exports its address as DATABASE_URL, which pytest-xdist workers
inherit; the run that started the server stops it when the run ends.
"""

from __future__ import annotations

import os

import pytest

_chosen = "DJANGO_SETTINGS_MODULE" in os.environ
from config import embedded_db  # noqa: E402

if not _chosen:
    # Importing `config` loads its Celery app, which defaults DJANGO_SETTINGS_MODULE for
    # `celery -A config`; pytest-django must take the suite's from pyproject.toml instead.
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)

_server = embedded_db.ensure()


def pytest_report_header(config: pytest.Config) -> str:
    return embedded_db.describe(_server)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None and _server.owned:
        _server.stop()
