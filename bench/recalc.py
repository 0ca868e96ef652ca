"""Benchmark: the monthly tier recalculation against the bare grouped aggregate.

    .venv/bin/python bench/recalc.py [--members N] [--entries-per-member K]

Creates its own PostgreSQL database (default postgres://postgres@127.0.0.1:5432/bench_recalc,
or DATABASE_URL's server with that database name), generates members, accounts and ledger
entries server-side (INSERT ... SELECT generate_series: copy speed, no Python per row),
evaluates September (to reach a steady state), then times October twice from the same state:

1. in one process, as `manage.py recalculate_tiers` runs it, against the bare aggregate over
   the same window as one query (the issue's ratio, target <= 2x); then reruns October and
   prints the rows it changed (0);
2. restored to the state after September, fanned out: the run's chunks on two threads with a
   connection each, as two Celery workers take them, against the same aggregate fanned out
   the same way (the chunks' member-id ranges on two connections). For reference it also
   prints the fanned-out job against the aggregate as one query, plain and with parallel
   query forced (which PostgreSQL cannot make faster here).

Before each of the two timed parts it reads the tables and indexes both sides use into the OS
page cache (pg_prewarm), so neither side pays disk reads the other does not.

Then it drops the database (`--keep` keeps it).
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
WORKERS = 2  # the Celery workers of the fanned-out run: one per core here


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

    from loyalty.models import Program, TierRunChunk
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
    # The state after September, to time October twice from the same start (in one process,
    # then fanned out).
    with connection.cursor() as cur:
        cur.execute(
            """CREATE TABLE bench_after_september AS SELECT member_id, tier_id,
                   tier_effective_on, qualifying_points, evaluated_on FROM loyalty_account"""
        )
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")

    as_of = date(2026, 10, 31)
    start, end = evaluation_window(as_of, program)

    grouped_sql = """
        SELECT COUNT(*), SUM(pts) FROM (
            SELECT member_id, SUM(points) AS pts FROM loyalty_pointentry
            WHERE qualifying_at >= %s AND qualifying_at < %s AND occurred_at < %s {ranged}
            GROUP BY member_id
        ) q
    """
    bare_sql = grouped_sql.format(ranged="")
    ranged_sql = grouped_sql.format(ranged="AND member_id >= %s AND member_id < %s")

    def aggregate(serial: bool = False, both_cores: bool = False) -> tuple[float, int]:
        """The bare aggregate, one query at the server's default settings (`serial`: with no
        parallel workers, as the job's chunk statements run; `both_cores`: parallel query
        forced, so the query may use the two cores the fanned-out job gets)."""
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

    def on_workers(jobs: list, work) -> float:  # type: ignore[no-untyped-def]
        """Seconds for `work(job)` over `jobs` on WORKERS threads, each with its own
        connection (as WORKERS Celery workers take the run's chunks), job i on thread i % n."""

        def worker(mine: list) -> None:  # type: ignore[type-arg]
            try:
                for job in mine:
                    work(job)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=worker, args=(jobs[i::WORKERS],)) for i in range(WORKERS)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def ranged_aggregate(bounds: tuple[int, int]) -> None:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cur.execute(ranged_sql, [start, end, end, *bounds])
            cur.fetchone()

    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + bare_sql, [start, end, end])
        plan = "\n".join(row[0] for row in cur.fetchall())
    workers = plan.split("Workers Planned: ")[1].split()[0] if "Workers Planned" in plan else "0"
    print(f"bare aggregate plan: {workers} parallel workers planned at default settings")

    # 1. October in one process, as `manage.py recalculate_tiers` runs it. The machine may be
    # shared: the aggregate is timed before and after (both with warm caches), the mean used.
    _warm(connection)
    aggregate()
    before, grouped = aggregate()
    wal_from = _wal_lsn(connection)
    started = time.perf_counter()
    result = tiers_recalculate(as_of=as_of, chunk_size=chunk_size)
    recalc = time.perf_counter() - started
    wal_mb = _wal_since(connection, wal_from) / 1e6
    after, _grouped = aggregate()
    bare = (before + after) / 2
    print(
        f"October recalculation in one process: {recalc:.2f} s "
        f"(processed {result.processed:,}: up {result.moved_up:,}, down {result.moved_down:,}, "
        f"unchanged {result.unchanged:,}; chunks of {chunk_size:,} member ids; "
        f"WAL {wal_mb:.1f} MB)"
    )
    print(
        f"bare grouped aggregate: {bare:.2f} s ({grouped:,} members; "
        f"{before:.2f} s before, {after:.2f} s after)"
    )
    print(f"ratio: {recalc / bare:.2f}x (target <= 2x)")
    aggregate(serial=True)
    serial, _grouped = aggregate(serial=True)
    print(f"bare aggregate without parallel workers: {serial:.2f} s; ratio {recalc / serial:.2f}x")

    # 2. The rerun: snapshot the accounts, run October again, count the rows that differ.
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
        cur.execute("DROP TABLE snap")
    print(
        f"rerun of October: rows changed {accounts_changed + changes_added} "
        f"(accounts {accounts_changed}, tier changes {changes_added}; run {again.status})"
    )

    # 3. October again from the state after September, fanned out: the run's chunks on
    # WORKERS threads, as WORKERS Celery workers take them (the chunk row locks keep them
    # apart). Its fair baseline is the same aggregate fanned out the same way: the same
    # member-id ranges on WORKERS connections (a single query cannot use the second core:
    # PostgreSQL's parallel plan of it is no faster, printed below).
    # The aggregate's ranges are the one-process run's chunks (the same accounts and chunk
    # size give the fanned-out run the same ones).
    ranges_ = list(
        TierRunChunk.objects.filter(run__period=as_of.replace(day=1))
        .order_by("first_member_id")
        .values_list("first_member_id", "end_member_id")
    )
    _restore_after_september(connection)
    _warm(connection)
    on_workers(ranges_, ranged_aggregate)
    fan_before = on_workers(ranges_, ranged_aggregate)
    started = time.perf_counter()
    run = tier_run_start(as_of=as_of, chunk_size=chunk_size)
    chunk_ids = list(run.chunks.order_by("first_member_id").values_list("pk", flat=True))
    on_workers(chunk_ids, lambda chunk_id: tier_run_chunk_process(chunk_id=chunk_id))
    fanned = time.perf_counter() - started
    fan_after = on_workers(ranges_, ranged_aggregate)
    fan_bare = (fan_before + fan_after) / 2
    run.refresh_from_db()
    if (run.moved_up, run.moved_down) != (result.moved_up, result.moved_down):
        sys.exit(
            f"the fanned-out October moved {run.moved_up:,} up and {run.moved_down:,} down, "
            f"the one-process October {result.moved_up:,} and {result.moved_down:,}: "
            "the restore to the state after September is wrong"
        )
    print(
        f"October recalculation, {len(chunk_ids)} chunks on {WORKERS} workers: {fanned:.2f} s "
        f"(status {run.status}, processed {run.processed:,}: up {run.moved_up:,}, "
        f"down {run.moved_down:,})"
    )
    print(
        f"bare aggregate over the same {len(ranges_)} ranges on {WORKERS} connections: "
        f"{fan_bare:.2f} s ({fan_before:.2f} s before, {fan_after:.2f} s after); "
        f"fanned-out ratio {fanned / fan_bare:.2f}x (target <= 2x)"
    )
    aggregate()
    single, _grouped = aggregate()
    aggregate(both_cores=True)
    parallel, _grouped = aggregate(both_cores=True)
    print(
        f"for reference, the aggregate as one query: {single:.2f} s "
        f"(ratio {fanned / single:.2f}x), with parallel query forced {parallel:.2f} s "
        f"(ratio {fanned / parallel:.2f}x)"
    )


def _wal_lsn(connection) -> str:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()::text")
        return str(cur.fetchone()[0])


def _wal_since(connection, lsn: str) -> int:  # type: ignore[no-untyped-def]
    """Bytes of WAL the server wrote since `lsn` (the whole server's: the job's on a quiet one)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", [lsn])
        return int(cur.fetchone()[0])


# What the job and the aggregate read and write, read into the OS page cache before each
# timed part: this machine's cache gives pages back to the host within minutes, and a cold
# page costs either side a disk read the other may not pay (pg_prewarm, a contrib module
# PostgreSQL ships; the aggregate's own warm-up run covers the rest).
WARM_RELATIONS = (
    "entry_member_qualifying",
    "loyalty_account",
    "loyalty_account_pkey",
    "loyalty_tierchange",
)  # and the tier changes' indexes


def _warm(connection) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cur.execute(
            """SELECT SUM(pg_prewarm(c.oid, 'read')) FROM pg_class c
               WHERE c.relname = ANY(%s) OR c.oid IN (
                   SELECT indexrelid FROM pg_index
                   WHERE indrelid = 'loyalty_tierchange'::regclass)""",
            [list(WARM_RELATIONS)],
        )
        pages = cur.fetchone()[0]
    print(f"read {pages:,} pages of the tables and indexes both sides use into the OS cache")


def _restore_after_september(connection) -> None:  # type: ignore[no-untyped-def]
    """Undo October: its run, chunks and changes, and the accounts as they were after
    September; then vacuum and checkpoint, as before the first October run."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM loyalty_tierchange WHERE period >= %s", [date(2026, 10, 1)])
        cur.execute(
            """DELETE FROM loyalty_tierrunchunk WHERE run_id IN
               (SELECT id FROM loyalty_tierrun WHERE period >= %s)""",
            [date(2026, 10, 1)],
        )
        cur.execute("DELETE FROM loyalty_tierrun WHERE period >= %s", [date(2026, 10, 1)])
        cur.execute(
            """
            UPDATE loyalty_account a
            SET tier_id = s.tier_id, tier_effective_on = s.tier_effective_on,
                qualifying_points = s.qualifying_points, evaluated_on = s.evaluated_on
            FROM bench_after_september s
            WHERE s.member_id = a.member_id
              AND ROW(a.tier_id, a.tier_effective_on, a.qualifying_points, a.evaluated_on)
                  IS DISTINCT FROM
                  ROW(s.tier_id, s.tier_effective_on, s.qualifying_points, s.evaluated_on)
            """
        )
        cur.execute("VACUUM ANALYZE loyalty_account")
        cur.execute("VACUUM ANALYZE loyalty_tierchange")
        cur.execute("CHECKPOINT")


if __name__ == "__main__":
    main()
