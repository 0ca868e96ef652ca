"""The earning engine's I/O, and nothing else: read a snapshot under the account locks, write a
plan. Both are one round trip each, to the database functions `loyalty_earning_snapshot` and
`loyalty_earning_write` (loyalty/migrations/0018_earning_functions.pg.sql)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from core import outbox
from loyalty.ledger.services import POINTS_EARNED

from .planner import (
    ContributionPosted,
    DayOrder,
    EarningEvent,
    Held,
    OrderReceived,
    Plan,
    ProgramState,
    Reads,
    Snapshot,
    Stored,
    Usage,
    VisitMade,
)

# The parameters travel as JSON text: psycopg's encoding of Python lists as arrays cost more
# than the rest of the call (about 0.2 ms an event).
SNAPSHOT_SQL = "SELECT loyalty_earning_snapshot(%s::bigint, %s::jsonb)"
WRITE_SQL = (
    "SELECT loyalty_earning_write(%s::bigint, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb,"
    " %s::jsonb, %s::jsonb, %s::jsonb, %s::text, %s::integer, %s::boolean)"
)


@contextmanager
def own_transaction() -> Iterator[None]:
    """A transaction of the engine's own, for a caller outside any of Django's (the API), in
    as few round trips as the checks allow: in psycopg's pipeline mode the BEGIN travels with
    the snapshot's call, and the COMMIT goes out only after the write's answer was checked
    (Django's `atomic` would send each statement apart). If anything fails, the transaction is
    rolled back and the error raised as Django's. Nothing inside may use Django's
    transactions (the ORM's reads are fine)."""
    assert not connection.in_atomic_block, "inside a transaction of Django's: use atomic()"
    connection.ensure_connection()
    raw = connection.connection
    assert raw.autocommit
    try:
        with connection.wrap_database_errors, raw.pipeline():
            raw.execute("BEGIN")
            yield
            raw.execute("COMMIT")
    except BaseException:
        if raw.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with connection.wrap_database_errors:
                raw.execute("ROLLBACK")
        raise


def _call(sql: str, params: list[Any]) -> Any:
    """One execution with server-side binding (a plain psycopg cursor sends the parameters
    apart; psycopg prepares the statement after its fifth use on a connection, so PostgreSQL
    parses and plans it once), wrapped as Django wraps its own cursors: its error classes,
    execute wrappers and query log."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def snapshot_read(
    *,
    program: ProgramState,
    api_key_id: int | None,
    events: Sequence[EarningEvent],
    reads: Reads,
) -> tuple[Snapshot, int]:
    """The snapshot of `events`' members (locked until the transaction ends) and the program's
    page version it was read under."""
    shop = [e for e in events if not isinstance(e, VisitMade)]
    visits = [e for e in events if isinstance(e, VisitMade)]
    posts = [e for e in shop if isinstance(e, ContributionPosted)]
    usage, orders = reads.usage_window, reads.orders_window
    what = {
        "numbers": sorted({e.member_number for e in shop}),
        "member_ids": [v.member_id for v in visits],
        "keys": sorted({e.key for e in shop}),
        "order_numbers": sorted({e.number for e in shop if isinstance(e, OrderReceived)}),
        "contribution_kinds": [p.kind for p in posts],
        "contribution_refs": [p.ref for p in posts],
        "visit_days": [v.day.isoformat() for v in visits],
        "time_zone": program.settings.time_zone,
        "usage_rules": list(reads.usage_rule_ids),
        "usage_from": usage[0].isoformat() if usage else None,
        "usage_to": usage[1].isoformat() if usage else None,
        "orders_from": orders[0].isoformat() if orders else None,
        "orders_to": orders[1].isoformat() if orders else None,
    }
    params = [api_key_id, json.dumps(what)]
    raw = _call(SNAPSHOT_SQL, params)
    data = json.loads(raw) if isinstance(raw, str) else raw
    snapshot = Snapshot(
        program=program,
        now=timezone.now(),
        api_key_id=api_key_id,
        key_active=bool(data["key_active"]),
        members=dict(data["members"]),
        accounts={m: Held(balance, tier) for m, balance, tier in data["accounts"]},
        stored={key: Stored(digest, response) for key, digest, response in data["stored"]},
        orders_taken=frozenset(data["orders"]),
        contributions_taken=frozenset((kind, ref) for kind, ref in data["contributions"]),
        visits_taken=frozenset((m, date.fromisoformat(d)) for m, d in data["visits"]),
        usage=tuple(
            Usage(m, rule, date.fromisoformat(d), int(points), int(reversed_))
            for m, rule, d, points, reversed_ in data["usage"]
        ),
        day_orders=tuple(
            DayOrder(m, date.fromisoformat(d), Decimal(amount), tuple(categories), fraud)
            for m, d, amount, categories, fraud in data["day_orders"]
        ),
    )
    return snapshot, int(data["version"])


def plan_write(plan: Plan, *, api_key_id: int | None) -> None:
    """Every row of `plan` in one statement (nothing when it writes nothing)."""
    if not plan.writes:
        return
    entries = [
        {
            "ord": n,
            "event_key": e.event_key,
            "order_number": e.order_number,
            "member_id": e.member_id,
            "points": e.points,
            "occurred_at": e.occurred_at.isoformat(),
            "reason": e.reason,
            "rule_id": e.rule_id,
            "campaign_id": e.campaign_id,
            "repay": e.repay,
            "expires_on": e.expires_on.isoformat() if e.expires_on else None,
        }
        for n, e in enumerate(plan.entries)
    ]
    params = [
        api_key_id,
        json.dumps(
            [
                {
                    "key": r.key,
                    "type": r.type,
                    "member_id": r.member_id,
                    "body_hash": r.body_hash,
                    "response": r.response,
                }
                for r in plan.events
            ]
        ),
        json.dumps(
            [
                {
                    "number": r.number,
                    "member_id": r.member_id,
                    "amount": str(r.amount),
                    "currency": r.currency,
                    "categories": r.categories,
                    "received_at": r.received_at.isoformat(),
                }
                for r in plan.orders
            ]
        ),
        json.dumps(
            [
                {
                    "kind": r.kind,
                    "ref": r.ref,
                    "member_id": r.member_id,
                    "posted_at": r.posted_at.isoformat(),
                }
                for r in plan.contributions
            ]
        ),
        json.dumps([{"member_id": r.member_id, "day": r.day.isoformat()} for r in plan.visits]),
        json.dumps(entries),
        json.dumps([{"member_id": m, "delta": d} for m, d in sorted(plan.deltas.items())]),
        json.dumps(plan.members),
        # the earnings with points, as `points.earned` events (loyalty_points_event_rows)
        POINTS_EARNED,
        1,
        outbox.subscribed(POINTS_EARNED),
    ]
    expected = [
        len(plan.events),
        len(plan.orders),
        len(plan.contributions),
        len(plan.visits),
        len(plan.entries),
        sum(1 for e in plan.entries if e.points > 0),
        sum(1 for e in plan.entries if e.repay > 0),
        sum(1 for d in plan.deltas.values() if d),
    ]
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        # fetching the answer before anything else is sent: in a pipeline, before the COMMIT
        cursor.execute(WRITE_SQL, params)
        row = cursor.fetchone()
    if row is None or list(row[0]) != expected:
        raise WriteMismatch(f"the write stored {row and row[0]}, the plan has {expected}")


class WriteMismatch(RuntimeError):
    """The write stored other rows than the plan has: the transaction must not commit."""
