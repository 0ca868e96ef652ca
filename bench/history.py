"""Benchmark: the cap-usage reads of ingestion against members with long histories.

    .venv/bin/python bench/history.py [--members N] [--histories 10,200,2000] [--keep]

Every `order.received` reads what the member already earned under the capped rules in the
cap period, with the earnings' reversals: the earning engine's snapshot
(`loyalty.earning.store.snapshot_read`, the database function `loyalty_earning_snapshot`), for
a batch of 500 members at once or for one member. Those reads must cost the same whatever the
members' histories hold. This creates its own database (bench_history), loads the
aliexpress preset, makes N members (default 500: one batch), and for each history length H
adds H earlier earnings per member (spread over the past two years, at copy speed) plus, today,
two earnings and a reversal of one of them per member; then it times the snapshot of one batch
of all N members and the snapshot of each member alone (best of 3), and checks that the plan
finds the daily cap used up (5 earned, net of the reversal). No target is named for this; the
figures must stay flat as H grows (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database, insert_members  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--histories", default="10,200,2000", help="entries per member")
    parser.add_argument("--keep", action="store_true", help="keep the database to inspect it")
    args = parser.parse_args()
    url = bench_url("bench_history")
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    os.environ.pop("REDIS_URL", None)
    create_database(url)
    try:
        import django

        django.setup()
        run(args.members, [int(h) for h in args.histories.split(",")])
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


def run(members: int, histories: list[int]) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, transaction

    from loyalty.earning import OrderReceived, store
    from loyalty.earning.planner import plan, reads
    from loyalty.earning.program import program_state
    from loyalty.program.models import EarningRule
    from members.services import api_key_create

    call_command("migrate", verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0)
    rule = EarningRule.objects.get(kind=EarningRule.Kind.SHOPPING, active=True)
    api_key, _secret = api_key_create(name="bench")
    now = datetime.now(UTC) - timedelta(minutes=5)
    with connection.cursor() as cur:
        insert_members(cur, members)
        # Today: two earnings per member, the first of them reversed.
        cur.execute(
            """
            INSERT INTO loyalty_pointentry (member_id, kind, points, occurred_at, qualifying_at,
                                            created_at, reason, rule_id)
            SELECT m, 'earn', 5, %s - n * interval '1 minute', %s - n * interval '1 minute',
                   now(), 'today', %s
            FROM generate_series(1, %s) m, generate_series(1, 2) n
            """,
            [now, now, rule.pk, members],
        )
        cur.execute(
            """
            INSERT INTO loyalty_pointentry (member_id, kind, points, occurred_at, qualifying_at,
                                            created_at, reason, reverses_id)
            SELECT e.member_id, 'reverse', -e.points, %s, e.occurred_at, now(), 'returned', e.id
            FROM loyalty_pointentry e WHERE e.reason = 'today'
              AND e.occurred_at = %s - interval '1 minute'
            """,
            [now, now],
        )
    events = [
        OrderReceived(
            key=f"k{m}",
            member_number=f"{m:010d}",
            occurred_at=now,
            number=f"H-{m}",
            amount=Decimal("12.50"),
            currency="USD",
            categories=(),
            digest="",
        )
        for m in range(1, members + 1)
    ]

    def snapshot(run: list[OrderReceived]) -> Any:
        program = program_state()
        return store.snapshot_read(
            program=program, api_key_id=api_key.pk, events=run, reads=reads(program, run)
        )[0]

    held = 0
    print(f"members {members:,}; today: 2 earnings and 1 reversal each")
    for history in histories:
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO loyalty_pointentry (member_id, kind, points, occurred_at,
                                                qualifying_at, created_at, reason, rule_id)
                SELECT 1 + g %% %s, 'earn', 1 + g %% 10, ts, ts, now(), 'history', %s
                FROM (SELECT g, %s - interval '1 day'
                             - (g %% 700) * interval '1 day' - (g %% 1440) * interval '1 minute'
                             AS ts
                      FROM generate_series(1, %s) g) s
                """,
                [members, rule.pk, now, (history - held) * members],
            )
            cur.execute("VACUUM ANALYZE loyalty_pointentry")
        held = history
        timings = []
        for _ in range(3):
            with transaction.atomic():
                started = time.perf_counter()
                whole = snapshot(events)
                batch = time.perf_counter() - started
                started = time.perf_counter()
                for event in events:
                    snapshot([event])
                single = time.perf_counter() - started
                transaction.set_rollback(True)
            timings.append((batch, single))
            # one earning of 5 left today, net of the reversal: the daily cap of 5 is used up
            points = {r.answer["points"] for r in plan(whole, events).results}  # type: ignore[union-attr]
            assert points == {0}, points
        batch = min(t[0] for t in timings)
        single = min(t[1] for t in timings)
        print(
            f"history {history:>6,} entries a member: batch read {batch * 1000:7.1f} ms for "
            f"{members} members ({batch * 1e6 / members:6.1f} us an event); "
            f"one member alone {single * 1e6 / members:6.1f} us"
        )


if __name__ == "__main__":
    main()
