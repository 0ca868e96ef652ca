"""The member dashboard under gunicorn with PostgreSQL and Redis (sessions and cache; without
REDIS_URL the settings' own: sessions in the database, a file cache).

    .venv/bin/python bench/pages.py [--members N] [--requests R] [--clients C] [--workers W]
                                    [--threads T]

Creates its own database `bench_pages` on DATABASE_URL's server (unset: the embedded one),
migrates it, loads the aliexpress preset, makes N members (default 2,000), each with a loyalty
account, a short points history and a coupon, and logs every one of them in (a session in
Redis when REDIS_URL is set, as in production). It starts gunicorn on a free loopback
port, lets every member open the dashboard once (the day's first view awards the visit point:
timed and printed apart), then with C concurrent keep-alive connections (default 10) requests R
dashboards (default 4,000) spread over all the members, and in the same run R requests of a
bare Django view (/healthz: no database). Prints requests/s and p50/p99 for both. Targets on 2
cores: >= 150 requests/s with p99 <= 150 ms. Every loop is bounded; gunicorn is stopped, the
sessions deleted and the database dropped at the end.

Server: gunicorn 2 workers x 4 threads (gthread) by default, as bench/ingest.py: a process per
core, threads to overlap the waits on PostgreSQL and Redis. On 2026-11-22 it beat 3 x 2 (the
earlier default) on both figures: dashboard 330 vs 285 requests/s, first view 90 vs 44.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402
from bench.ingest import free_port, pct, start_gunicorn  # noqa: E402

HISTORY = 5  # point entries per member


def setup_django(env: dict[str, str], members: int) -> list[str]:
    """Migrate, load the preset, make the members with history, log them in. Returns the
    session keys."""
    os.environ.update(env)
    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from benefits.coupons.models import Coupon, CouponTemplate, Occasion
    from loyalty.ledger.models import Account, PointEntry
    from members.models import Member

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest whitenoise reads
    call_command("load_program", "aliexpress", verbosity=0)
    Member.objects.bulk_create(
        [
            Member(email=f"page{n}@example.com", number=f"8{n:09d}", name=f"Member {n}")
            for n in range(members)
        ],
        batch_size=1000,
    )
    rows = list(Member.objects.order_by("pk"))
    now = timezone.now()
    Account.objects.bulk_create(
        [Account(member_id=m.pk, balance=5 * HISTORY) for m in rows], batch_size=1000
    )
    PointEntry.objects.bulk_create(
        [
            PointEntry(
                member_id=m.pk,
                kind="earn",
                points=5,
                occurred_at=now - timedelta(days=10 * i + 1),
                qualifying_at=now - timedelta(days=10 * i + 1),
                reason=f"5 points for order B-{m.pk}-{i}",
            )
            for m in rows
            for i in range(HISTORY)
        ],
        batch_size=2000,
    )
    template = CouponTemplate.objects.create(
        code="bench",
        name="Bench coupon",
        kind="amount_off",
        value=5,
        valid_days=30,
        occasion=Occasion.MANUAL,
    )
    Coupon.objects.bulk_create(
        [
            Coupon(
                member_id=m.pk,
                template=template,
                occasion=Occasion.MANUAL,
                valid_from=now - timedelta(days=1),
                valid_until=now + timedelta(days=3),
                reason="bench",
                issued_at=now,
                code=f"BENCH-{m.pk:08d}",
            )
            for m in rows
        ],
        batch_size=1000,
    )
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806
    keys = []
    for member in rows:
        session = SessionStore()
        session[SESSION_KEY] = str(member.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = member.get_session_auth_hash()
        session.create()
        assert session.session_key is not None
        keys.append(session.session_key)
    connection.close()
    return keys


def delete_sessions(keys: list[str]) -> None:
    from django.conf import settings

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806

    for key in keys:
        SessionStore(session_key=key).delete()


def run(
    port: int, clients: int, jobs: list[tuple[str, str]], must: bytes = b'data-testid="tier-card"'
) -> tuple[float, list[float], int]:
    """GET every (path, session key) from `clients` keep-alive connections; a member's page
    must contain `must`. Returns (seconds, latencies, errors)."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    latencies: list[float] = []
    errors = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                path, session = queue.pop()
            headers = {"Cookie": f"sessionid={session}"} if session else {}
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            ok = response.status == 200 and (not session or must in body)
            with lock:
                latencies.append(elapsed)
                errors[0] += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, errors[0]


def report(label: str, count: int, seconds: float, latencies: list[float], errors: int) -> None:
    print(
        f"{label}: {count} requests in {seconds:.1f} s -> {count / seconds:,.0f} requests/s; "
        f"p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms; errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()

    url = bench_url("bench_pages")
    env: dict[str, Any] = {
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # Keys of this run only: an earlier run's visit flags (same member ids, same day)
        # would skip the visit point of the first view.
        "CACHE_KEY_PREFIX": f"bench-pages-{os.getpid()}-{int(time.time())}",
    }
    create_database(url)
    gunicorn = None
    keys: list[str] = []
    try:
        keys = setup_django(env, args.members)
        port = free_port()
        sessions = "Redis sessions" if env["REDIS_URL"] else "database sessions, REDIS_URL unset"
        gunicorn = start_gunicorn(env, port, args.workers, args.threads)
        print(
            f"{args.members} members logged in ({sessions}), gunicorn {args.workers} "
            f"workers x {args.threads} threads, {args.clients} connections"
        )
        first = [("/me/", key) for key in keys]
        # The first view must show the visit point it has just awarded.
        seconds, lat, errors = run(port, args.clients, first, must=b"for your visit on")
        report("dashboard, first view of the day (visit point)", len(first), seconds, lat, errors)

        bare = [("/healthz", "")] * args.requests
        seconds, lat, errors = run(port, args.clients, bare)
        report("bare Django view (/healthz)             ", len(bare), seconds, lat, errors)

        pages = [("/me/", keys[n % len(keys)]) for n in range(args.requests)]
        seconds, lat, errors = run(port, args.clients, pages)
        report("dashboard (/me/), logged in             ", len(pages), seconds, lat, errors)
        print(
            "targets: >= 150 requests/s, p99 <= 150 ms -> "
            + ("met" if len(pages) / seconds >= 150 and pct(lat, 0.99) <= 150 else "NOT met")
        )
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        if keys:
            delete_sessions(keys)
        drop_database(url)


if __name__ == "__main__":
    main()
