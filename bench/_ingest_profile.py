"""Where the time of one event goes, in-process (no HTTP server, no client threads).

    .venv/bin/python bench/_ingest_profile.py [--single N] [--batch B] [--cprofile]

Not run by `make bench` (the leading underscore). Uses the same database as bench/ingest.py
(`bench_ingest` on DATABASE_URL's server, unset: the embedded one; do not run both at once),
creates and drops it. Posts N single `order.received` events and 3 batches of B through the
project's WSGI application (`config.wsgi`, as gunicorn serves it) and prints, per event: statements, CPU in this process (Django, DRF, the ORM, psycopg), time inside the
database calls, and wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402

MEMBERS = 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--cprofile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    url = bench_url("bench_ingest")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DB_CONN_HEALTH_CHECKS": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    create_database(url)
    try:
        run(args)
    finally:
        from django.db import connection

        connection.close()
        drop_database(url)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.ledger.models import Account
    from members.models import Member
    from members.services import api_key_create

    call_command("migrate", verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0)
    Member.objects.bulk_create(
        [Member(email=f"p{n}@example.com", number=f"8{n:09d}") for n in range(MEMBERS)]
    )
    Account.objects.bulk_create(
        [Account(member_id=pk) for pk in Member.objects.values_list("pk", flat=True)]
    )
    secret = api_key_create(name="profile")[1]
    when = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    def event(n: int, prefix: str) -> dict[str, Any]:
        return {
            "id": f"{prefix}{n}",
            "type": "order.received",
            "member": f"8{n % MEMBERS:09d}",
            "occurred_at": when,
            "order": {
                "number": f"{prefix}-{n}",
                "amount": "12.50",
                "currency": "USD",
                "categories": ["a"],
            },
        }

    from django.core import signals
    from django.db import reset_queries
    from django.test import RequestFactory

    from config.wsgi import application  # as gunicorn serves it

    factory = RequestFactory(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    signals.request_started.disconnect(reset_queries)  # keep the statements for the count

    def post(path: str, body: bytes) -> int:
        environ = factory.post(path, body, content_type="application/json").environ
        environ.pop("HTTP_COOKIE", None)
        seen: list[str] = []
        chunks = application(environ, lambda status, headers, *exc: seen.append(status))
        b"".join(chunks)
        chunks.close()  # type: ignore[attr-defined]
        return int(seen[0].split()[0])

    def measure(label: str, count: int, requests: list[tuple[str, bytes]]) -> None:
        with CaptureQueriesContext(connection) as queries:
            cpu, wall = time.process_time(), time.perf_counter()
            for path, body in requests:
                status = post(path, body)
                assert status in (200, 201), status
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        in_db = sum(float(q["time"]) for q in queries.captured_queries)
        print(
            f"{label}: {count} events; per event {len(queries.captured_queries) / count:.2f} "
            f"statements, CPU {cpu * 1000 / count:.2f} ms, in database calls "
            f"{in_db * 1000 / count:.2f} ms, wall {wall * 1000 / count:.2f} ms "
            f"-> {count / wall:,.0f} events/s in one thread"
        )

    single = [("/api/v1/events/", json.dumps(event(n, "s")).encode()) for n in range(args.single)]
    batches = [
        (
            "/api/v1/events/batch/",
            json.dumps({"events": [event(b * args.batch + n, f"b{b}") for n in range(args.batch)]}),
        )
        for b in range(3)
    ]
    post(single[0][0], single[0][1])  # warm up
    profile(args.cprofile, lambda: measure("single ", args.single - 1, single[1:]))
    profile(
        args.cprofile,
        lambda: measure("batched", 3 * args.batch, [(p, b.encode()) for p, b in batches]),
    )


def profile(enabled: bool, work: Callable[[], None]) -> None:
    if not enabled:
        work()
        return
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    work()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
        "loyalty|members/api|rest_framework/views.py|middleware|pydantic|redis.py"
    )
    print(out.getvalue())


if __name__ == "__main__":
    main()
