"""Scratch PostgreSQL databases for the benchmarks.

A benchmark always works in a database of its own name (bench_<name>) on the server that
DATABASE_URL points at (unset: the embedded server, config/embedded_db.py, started for the
script and stopped after it), and drops it when done. It never uses the database named in
DATABASE_URL itself, so `make bench` cannot touch real data.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import embedded_db  # noqa: E402

_announced = False


def server_url() -> str:
    """DATABASE_URL, or the embedded server's (started if needed); says once where it runs."""
    global _announced
    server = embedded_db.ensure()
    url = os.environ["DATABASE_URL"]
    if not urlsplit(url).scheme.startswith("postgres"):
        sys.exit("the benchmarks need PostgreSQL: DATABASE_URL=postgres://... (or unset)")
    if not _announced:
        print(embedded_db.describe(server), flush=True)
        _announced = True
    return url


def bench_url(name: str) -> str:
    """The URL of the benchmark's own database `name` on the server (see `server_url`)."""
    return urlunsplit(urlsplit(server_url())._replace(path=f"/{name}"))


def _admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def create_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("bench_"), name
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("bench_"), name
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_members(cursor, count: int) -> None:  # type: ignore[no-untyped-def]
    """Members 1..count with empty accounts, server-side (INSERT ... SELECT generate_series:
    copy speed, no Python per row). Member numbers are the id, zero-padded to 10 digits."""
    cursor.execute(
        """
        INSERT INTO members_member (id, password, is_superuser, email, number, name,
            joined_on, language, marketing_consent, is_staff, is_active, date_joined)
        SELECT g, '!', false, 'm' || g || '@bench.test', lpad(g::text, 10, '0'), '',
               DATE '2024-01-01', 'en', false, false, true, TIMESTAMPTZ '2024-01-01'
        FROM generate_series(1, %s) g
        """,
        [count],
    )
    cursor.execute(
        "INSERT INTO loyalty_account (member_id, balance, qualifying_points) "
        "SELECT g, 0, 0 FROM generate_series(1, %s) g",
        [count],
    )
