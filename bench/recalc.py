"""Benchmark: the monthly tier recalculation against the bare grouped aggregate.

    .venv/bin/python bench/recalc.py [--members N] [--entries-per-member K] [--repeat R]

Creates its own database `bench_recalc` on DATABASE_URL's server (unset: the embedded one),
generates members, accounts and ledger entries server-side (INSERT ... SELECT generate_series:
copy speed, no Python per row), evaluates September (to reach a steady state), then evaluates
October R times (default 3) in each of two ways, every time from the same state after September
(October's run, changes and account updates undone, then VACUUM ANALYZE and CHECKPOINT):

1. in one process, as `manage.py recalculate_tiers` runs it (the chunks one after another),
   against the bare aggregate query (qualifying points per member over the window, grouped)
   at the server's default settings, timed just before and just after the job;
2. as the monthly job runs it: `tier_run_start` (as beat calls it), then the run's chunks on
   two threads with a connection each, as the two Celery workers of `make run` take them (one
   per core here). The issue's ratio (target <= 2x) sets this against the bare aggregate
   query, the faster of its run at default settings and with parallel query forced (so that
   it too may use both cores; PostgreSQL's parallel plan of it is 0-15% faster here).

Beside the issue's ratio it prints two stricter ones, the cost of the job's own work per
core: the one-process job against the query, and the fanned-out job against the aggregate
fanned out the same way (the chunks' member-id ranges on two connections). Medians decide,
every run is printed. Then it reruns October and prints the rows changed (0).

Before each timed part it reads the tables and indexes both sides use into the OS page cache
(pg_prewarm), so neither side pays disk reads the other does not. Then it drops the database
(`--keep` keeps it, with `bench_after_september`, the state every October starts from).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import insert_members, server_url  # noqa: E402

DB_NAME = "bench_recalc"
WORKERS = 2  # the Celery workers of `make run` (--concurrency=2): one per core here
TARGET = 2.0


def _urls() -> tuple[str, str]:
    parts = urlsplit(server_url())
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
    parser.add_argument("--repeat", type=int, default=3, help="Octobers timed in each way")
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the service's")
    parser.add_argument("--keep", action="store_true", help="keep the database to inspect it")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
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
        from loyalty.tiers.services import DEFAULT_CHUNK_SIZE

        _run(members, entries, args.chunk_size or DEFAULT_CHUNK_SIZE, args.repeat)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin_exec(admin_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


@dataclass(frozen=True)
class Timing:
    """Seconds of one October and of its baselines (each the mean of a run just before the
    job and one just after it)."""

    job: float
    query: float  # the bare aggregate query at the server's default settings
    parallel: float  # the same query with parallel query forced
    fanned: float = 0.0  # the aggregate fanned out as the job (fanned-out runs only)

    @property
    def best_query(self) -> float:
        return min(self.query, self.parallel)


def _mean(before: tuple[float, float], after: tuple[float, float]) -> tuple[float, float]:
    return (before[0] + after[0]) / 2, (before[1] + after[1]) / 2


def _median_line(ratios: list[float]) -> str:
    shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return f"median {statistics.median(ratios):.2f}x ({shown})"


def _run(members: int, entries: int, chunk_size: int, repeat: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from loyalty.program.models import Program
    from loyalty.program.presets import tiers as tier_preset
    from loyalty.tiers.models import TierRunChunk
    from loyalty.tiers.services import (
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
    # The state after September: every October below starts from it.
    with connection.cursor() as cur:
        cur.execute(
            """CREATE TABLE bench_after_september AS SELECT member_id, tier_id,
                   tier_effective_on, qualifying_points, evaluated_on FROM loyalty_account"""
        )

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

    def query_once(both_cores: bool) -> float:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
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
            cur.fetchone()
        return time.perf_counter() - started

    def query() -> tuple[float, float]:
        """Seconds for the bare aggregate query at the server's default settings, and with
        parallel query forced (so that it may use the cores the fanned-out job gets)."""
        return query_once(False), query_once(True)

    def on_workers(jobs: list, work: Callable) -> float:  # type: ignore[type-arg]
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

    moves: set[tuple[int, int]] = set()

    def record(label: str, up: int, down: int) -> None:
        moves.add((up, down))
        if len(moves) > 1:
            sys.exit(
                f"{label} moved {up:,} up and {down:,} down, another October "
                f"{sorted(moves)}: the restore to the state after September is wrong"
            )

    def fanned_october(n: int, ranges_: list[tuple[int, int]]) -> Timing:
        """October as the monthly job runs it: `tier_run_start` (as beat calls it), then the
        run's chunks on WORKERS workers. `ranges_` are the chunks' member-id ranges (those of
        the one-process run: the same accounts and chunk size make the same chunks)."""
        _restore_after_september(connection)
        _warm(connection)
        query()
        before = query()
        fan_before = on_workers(ranges_, ranged_aggregate)
        started = time.perf_counter()
        run = tier_run_start(as_of=as_of, chunk_size=chunk_size)
        chunk_ids = list(run.chunks.order_by("first_member_id").values_list("pk", flat=True))
        on_workers(chunk_ids, lambda chunk_id: tier_run_chunk_process(chunk_id=chunk_id))
        job = time.perf_counter() - started
        fan_after = on_workers(ranges_, ranged_aggregate)
        after = query()
        run.refresh_from_db()
        record("a fanned-out October", run.moved_up, run.moved_down)
        t = Timing(job, *_mean(before, after), fanned=(fan_before + fan_after) / 2)
        print(
            f"[{n}] October as the monthly job runs it, {len(chunk_ids)} chunks on {WORKERS} "
            f"workers: {job:.2f} s (status {run.status}; up {run.moved_up:,}, "
            f"down {run.moved_down:,}); the bare aggregate query {t.query:.2f} s, with "
            f"parallel query forced {t.parallel:.2f} s: {job / t.best_query:.2f}x the faster; "
            f"the aggregate over the same {len(ranges_)} ranges on {WORKERS} connections "
            f"{t.fanned:.2f} s ({fan_before:.2f}, {fan_after:.2f}): {job / t.fanned:.2f}x"
        )
        return t

    def one_process_october(n: int) -> tuple[Timing, list[tuple[int, int]]]:
        """October as `manage.py recalculate_tiers` runs it: the chunks one after another.
        Also returns the run's chunk ranges."""
        _restore_after_september(connection)
        _warm(connection)
        query()
        before = query()
        wal_from = _wal_lsn(connection)
        started = time.perf_counter()
        result = tiers_recalculate(as_of=as_of, chunk_size=chunk_size)
        job = time.perf_counter() - started
        wal_mb = _wal_since(connection, wal_from) / 1e6
        after = query()
        record("a one-process October", result.moved_up, result.moved_down)
        t = Timing(job, *_mean(before, after))
        ranges_ = list(
            TierRunChunk.objects.filter(run__period=as_of.replace(day=1))
            .order_by("first_member_id")
            .values_list("first_member_id", "end_member_id")
        )
        print(
            f"[{n}] October in one process: {job:.2f} s (processed {result.processed:,}: up "
            f"{result.moved_up:,}, down {result.moved_down:,}, unchanged {result.unchanged:,}; "
            f"chunks of {chunk_size:,} member ids; WAL {wal_mb:.1f} MB); the bare aggregate "
            f"query {t.query:.2f} s ({before[0]:.2f} before, {after[0]:.2f} after): "
            f"{job / t.query:.2f}x"
        )
        return t, ranges_

    fanned: list[Timing] = []
    single: list[Timing] = []
    for n in range(1, repeat + 1):
        timing, ranges_ = one_process_october(n)
        single.append(timing)
        fanned.append(fanned_october(n, ranges_))

    # The rerun: the last October above (fanned out) is done; run it again in one process and
    # count the rows that differ.
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
    issue = [t.job / t.best_query for t in fanned]
    met = statistics.median(issue) <= TARGET
    print(
        f"the monthly recalculation against the bare aggregate query (the faster of default "
        f"settings and parallel query forced): {_median_line(issue)} "
        f"over {repeat} run(s), target <= {TARGET:g}x: {'met' if met else 'NOT met'}"
    )
    per_core_single = [t.job / t.query for t in single]
    per_core_fanned = [t.job / t.fanned for t in fanned]
    print(
        f"per core: in one process against the query {_median_line(per_core_single)}; "
        f"fanned out against the aggregate fanned out the same way "
        f"{_median_line(per_core_fanned)}"
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


def _restore_after_september(connection) -> None:  # type: ignore[no-untyped-def]
    """Undo October: its run, chunks and changes, and the accounts as they were after
    September; then vacuum and checkpoint, so every October starts from the same state."""
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
