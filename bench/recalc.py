"""Benchmark: the monthly tier recalculation against the bare grouped aggregate.

    .venv/bin/python bench/recalc.py [--members N] [--entries-per-member K]

Creates its own PostgreSQL database (default postgres://postgres@127.0.0.1:5432/bench_recalc,
or DATABASE_URL's server with that database name), generates members, accounts and ledger
entries server-side (INSERT ... SELECT generate_series: copy speed, no Python per row),
evaluates September (to reach a steady state), then times the October recalculation (in one
process, as `manage.py recalculate_tiers` runs it) and the bare aggregate over the same
window, prints both and their ratio, reruns October and prints the rows it changed (0), times
November with its chunks on two threads (as two Celery workers run them), and drops the
database.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import insert_members  # noqa: E402

DB_NAME = "bench_recalc"


def _urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/recalc.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    bench = urlunsplit(parts._replace(path=f"/{DB_NAME}"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    return bench, admin


def _admin_exec(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries-per-member", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the service's")
    parser.add_argument("--keep", action="store_true", help="keep the database to inspect it")
    args = parser.parse_args()
    members, entries = args.members, args.members * args.entries_per_member

    bench_url, admin_url = _urls()
    _admin_exec(admin_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin_exec(admin_url, f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = bench_url
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    try:
        import django

        django.setup()
        from loyalty.tiers import DEFAULT_CHUNK_SIZE

        _run(members, entries, args.chunk_size or DEFAULT_CHUNK_SIZE)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin_exec(admin_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _run(members: int, entries: int, chunk_size: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from loyalty.models import Program
    from loyalty.presets import tiers as tier_preset
    from loyalty.tiers import (
        evaluation_window,
        tier_run_chunk_process,
        tier_run_start,
        tiers_recalculate,
    )

    call_command("migrate", verbosity=0)
    tier_preset.load("aliexpress")
    program = Program.load()

    print(f"members {members:,}, entries {entries:,}")
    started = time.perf_counter()
    with connection.cursor() as cur:
        insert_members(cur, members)
        # Drop the entry indexes during the load, build them after (as a restore would).
        cur.execute(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE tablename = 'loyalty_pointentry' AND indexname NOT LIKE '%%pkey'"""
        )
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        # 24 months of history up to the end of October 2026: 85% earnings (1-10 points),
        # 10% spending (no qualifying_at), 5% reversals of earnings (qualifying_at earlier).
        cur.execute(
            """
            INSERT INTO loyalty_pointentry (member_id, kind, points, occurred_at, qualifying_at,
                                            created_at, reason)
            SELECT m, k, p, o,
                   CASE WHEN k = 'earn' THEN o
                        WHEN k = 'reverse' THEN o - interval '20 days' END,
                   o, 'bench'
            FROM (
                SELECT 1 + (hashint8(g) & 2147483647) %% %s AS m,
                       CASE WHEN g %% 20 < 17 THEN 'earn'
                            WHEN g %% 20 < 19 THEN 'redeem' ELSE 'reverse' END AS k,
                       CASE WHEN g %% 20 < 17 THEN 1 + g %% 10
                            WHEN g %% 20 < 19 THEN -(1 + g %% 10) ELSE -(1 + g %% 5) END AS p,
                       TIMESTAMPTZ '2024-11-01 00:00+00'
                         + ((hashint8(g + 7) & 2147483647) %% (730 * 86400)) * interval '1 second'
                         AS o
                FROM generate_series(1, %s) g
            ) s
            """,
            [members, entries],
        )
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute("VACUUM ANALYZE")
    print(f"generated in {time.perf_counter() - started:.1f} s")

    september = tiers_recalculate(as_of=date(2026, 9, 30), chunk_size=chunk_size)
    print(
        f"September (warm-up): up {september.moved_up:,}, down {september.moved_down:,}, "
        f"unchanged {september.unchanged:,}"
    )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")

    as_of = date(2026, 10, 31)
    start, end = evaluation_window(as_of, program)

    bare_sql = """
        SELECT COUNT(*), SUM(pts) FROM (
            SELECT member_id, SUM(points) AS pts FROM loyalty_pointentry
            WHERE qualifying_at >= %s AND qualifying_at < %s AND occurred_at < %s
            GROUP BY member_id
        ) q
    """

    def aggregate(serial: bool = False, both_cores: bool = False) -> tuple[float, int]:
        """The bare aggregate at the server's default settings (`serial`: with no parallel
        workers, as the job's chunk statements run; `both_cores`: parallel query forced, so
        the aggregate gets the two cores the fanned-out job gets)."""
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            if serial:
                cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            if both_cores:
                for setting in (
                    "max_parallel_workers_per_gather = 2",
                    "parallel_setup_cost = 0",
                    "parallel_tuple_cost = 0",
                    "min_parallel_table_scan_size = 0",
                    "min_parallel_index_scan_size = 0",
                ):
                    cur.execute(f"SET LOCAL {setting}")
            cur.execute(bare_sql, [start, end, end])
            grouped, _total = cur.fetchone()
        return time.perf_counter() - started, grouped

    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + bare_sql, [start, end, end])
        plan = "\n".join(row[0] for row in cur.fetchall())
    workers = plan.split("Workers Planned: ")[1].split()[0] if "Workers Planned" in plan else "0"
    print(f"bare aggregate plan: {workers} parallel workers planned at default settings")

    # The machine may be shared: the aggregate is timed before and after the recalculation
    # (both with warm caches) and the mean is used.
    aggregate()
    before, grouped = aggregate()
    started = time.perf_counter()
    result = tiers_recalculate(as_of=as_of, chunk_size=chunk_size)
    recalc = time.perf_counter() - started
    after, _grouped = aggregate()
    bare = (before + after) / 2

    print(
        f"October recalculation: {recalc:.2f} s "
        f"(processed {result.processed:,}: up {result.moved_up:,}, down {result.moved_down:,}, "
        f"unchanged {result.unchanged:,}; chunks of {chunk_size:,} member ids)"
    )
    print(
        f"bare grouped aggregate: {bare:.2f} s ({grouped:,} members; "
        f"{before:.2f} s before, {after:.2f} s after)"
    )
    print(f"ratio: {recalc / bare:.2f}x (target <= 2x)")
    aggregate(serial=True)
    serial, _grouped = aggregate(serial=True)
    print(f"bare aggregate without parallel workers: {serial:.2f} s; ratio {recalc / serial:.2f}x")

    # The rerun: snapshot the accounts, run October again, count the rows that differ.
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE snap AS SELECT * FROM loyalty_account")
        cur.execute("SELECT COUNT(*) FROM loyalty_tierchange")
        changes_before = cur.fetchone()[0]
    again = tiers_recalculate(as_of=as_of, chunk_size=chunk_size)
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT COUNT(*) FROM loyalty_account a JOIN snap s USING (member_id)
            WHERE ROW(a.tier_id, a.tier_effective_on, a.qualifying_points, a.evaluated_on)
                  IS DISTINCT FROM
                  ROW(s.tier_id, s.tier_effective_on, s.qualifying_points, s.evaluated_on)
            """
        )
        accounts_changed = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM loyalty_tierchange")
        changes_added = cur.fetchone()[0] - changes_before
    print(
        f"rerun of October: rows changed {accounts_changed + changes_added} "
        f"(accounts {accounts_changed}, tier changes {changes_added}; run {again.status})"
    )

    # November, fanned out: the run's chunks processed by two threads, as two Celery workers
    # would (each takes its own chunks; the chunk row locks keep them apart).
    as_of = date(2026, 11, 30)
    start, end = evaluation_window(as_of, program)
    aggregate()
    before, grouped = aggregate()
    started = time.perf_counter()
    run = tier_run_start(as_of=as_of, chunk_size=chunk_size)
    chunk_ids = list(run.chunks.order_by("first_member_id").values_list("pk", flat=True))

    def worker(ids: list[int]) -> None:
        try:
            for chunk_id in ids:
                tier_run_chunk_process(chunk_id=chunk_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(chunk_ids[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fanned = time.perf_counter() - started
    after, _grouped = aggregate()
    bare = (before + after) / 2
    run.refresh_from_db()
    print(
        f"November recalculation, {len(chunk_ids)} chunks on 2 workers: {fanned:.2f} s "
        f"(status {run.status}, processed {run.processed:,}: up {run.moved_up:,}, "
        f"down {run.moved_down:,}); bare aggregate {bare:.2f} s; ratio {fanned / bare:.2f}x"
    )
    aggregate(both_cores=True)
    parallel, _grouped = aggregate(both_cores=True)
    print(
        f"bare aggregate on both cores (parallel query forced): {parallel:.2f} s; "
        f"fanned-out ratio {fanned / parallel:.2f}x"
    )


if __name__ == "__main__":
    main()
