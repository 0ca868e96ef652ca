"""`order.received` in one round trip on PostgreSQL (docs/adr/0008-one-round-trip-ingestion.md).

`order_receive_sql` applies one well-formed `order.received` event by calling the database
function `loyalty_order_receive` (migration 0010): the member, the account lock, the event
row, the order, the entries with their reasons, lots, debt repayment, the balance and the
stored answer, in one statement (so one transaction, one round trip). It answers exactly
what `event_ingest` answers for the same event and writes the same ledger rows; the Python
services stay the reference implementation (other event types, anything unusual) and
`tests/loyalty/test_order_receive_sql.py` compares both over random sequences.

What needs Python stays in Python: the program-local day and its bounds, the lots' expiry
date and the reason templates in the request's language (gettext), passed as parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from .clock import day_bounds, local_date, month_bounds
from .earning import IdempotencyConflict, OrderExists, Outcome
from .services import LedgerError, lot_expiry
from .tiers import tiers_instant_upgrade_schedule

# The msgids of loyalty.earning (earn_reason, below_minimum_reason, campaign_reason,
# category_bonus_what, order_receive) and EarningRule.cap_label, by the name the SQL uses.
TEXTS = {
    "order_what": gettext_noop("order %(number)s"),
    "one_point": gettext_noop("1 point for %(what)s"),
    "points_for": gettext_noop("%(points)d points for %(what)s"),
    "capped_zero": gettext_noop("%(cap)s reached: 0 points"),
    "capped_part": gettext_noop("%(points)d points for %(what)s (%(cap)s reached)"),
    "below_min": gettext_noop(
        "order %(number)s is below the minimum of %(min)s %(currency)s: 0 points"
    ),
    "campaign": gettext_noop("%(points)d bonus points: %(campaign)s (order %(order)s)"),
    "categories_what": gettext_noop("%(n)d more categories on %(day)s (order %(number)s)"),
    "cap_day": gettext_noop("daily %(subject)s cap of %(cap)d"),
    "cap_month": gettext_noop("monthly %(subject)s cap of %(cap)d"),
}
# Each template's arguments in the order the SQL passes them to format(): `_texts` turns
# `%(name)s` / `%(name)d` into `%N$s`, so a translation may reorder them freely.
TEXT_ARGS = {
    "order_what": ("number",),
    "one_point": ("what",),
    "points_for": ("points", "what"),
    "capped_zero": ("cap",),
    "capped_part": ("points", "what", "cap"),
    "below_min": ("number", "min", "currency"),
    "campaign": ("points", "campaign", "order"),
    "categories_what": ("n", "day", "number"),
    "cap_day": ("subject", "cap"),
    "cap_month": ("subject", "cap"),
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
_TEXTS_BY_LANGUAGE: dict[str | None, str] = {}

SQL = (
    "SELECT loyalty_order_receive(%s::bigint, %s::text, %s::text, %s::timestamptz, %s::text,"
    " %s::numeric, %s::text, %s::jsonb, %s::text, %s::date, %s::timestamptz, %s::timestamptz,"
    " %s::timestamptz, %s::timestamptz, %s::date, %s::jsonb, %s::bigint)"
)
ORDER_EXISTS_SQLSTATE = "LY409"


class MemberNotFound(LedgerError):
    code = "member_not_found"
    status = 404


class ProgramChanged(Exception):
    """The program settings changed since the caller read them (`program_version`)."""


class ApiKeyRefused(Exception):
    """The API key was revoked since the caller read it."""


@dataclass(frozen=True)
class ReceivedSpec:
    """A well-formed `order.received` event whose member the database resolves."""

    key: str
    member_number: str
    occurred_at: datetime
    number: str
    amount: Decimal
    currency: str
    categories: list[str]  # sorted, distinct, stripped, lower-cased
    digest: str


def positional(name: str, template: str) -> str:
    """`template` (a Python %-format with named arguments) as a PostgreSQL format() string
    taking TEXT_ARGS[name] in order (`%%` means % in both)."""
    args = TEXT_ARGS[name]
    return _PLACEHOLDER.sub(lambda m: f"%{args.index(m[1]) + 1}$s", template)


def _texts() -> str:
    """The reason templates in the active language, as the JSON the function takes."""
    language = get_language()
    texts = _TEXTS_BY_LANGUAGE.get(language)
    if texts is None:
        texts = json.dumps({name: positional(name, _(msgid)) for name, msgid in TEXTS.items()})
        _TEXTS_BY_LANGUAGE[language] = texts
    return texts


def order_receive_sql(
    *, api_key_id: int, event: ReceivedSpec, program_version: int | None = None
) -> tuple[Outcome, int | None]:
    """Apply one `order.received` event whole, once per (API key, event id), as
    `event_ingest` does. Returns the outcome and the member's id (None on a replay).
    Raises MemberNotFound, IdempotencyConflict or OrderExists.

    With `program_version` (the program's page version the caller read its settings under,
    -1 if there was none), the same statement first checks that the settings are still
    those (else ProgramChanged) and that the key is still active (else ApiKeyRefused), and
    writes nothing if not: the caller's memos need no cache round trip to stay true."""
    day = local_date(event.occurred_at)
    day_start, day_end = day_bounds(day)
    month_start, month_end = month_bounds(day)
    params = [
        api_key_id,
        event.key,
        event.member_number,
        event.occurred_at,
        event.number,
        event.amount,
        event.currency,
        json.dumps(event.categories),
        event.digest,
        day,
        day_start,
        day_end,
        month_start,
        month_end,
        lot_expiry(day),
        _texts(),
        program_version,
    ]
    try:
        if connection.in_atomic_block:  # e.g. inside a test: a savepoint keeps it whole
            with transaction.atomic():
                result = _call(params)
        else:  # autocommit: the one statement is its own transaction
            result = _call(params)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == ORDER_EXISTS_SQLSTATE:
            raise OrderExists(
                _("Order %(number)s was already received.") % {"number": event.number}
            ) from None
        raise
    status = result["status"]
    if status == "stale":
        raise ProgramChanged
    if status == "key_refused":
        raise ApiKeyRefused
    if status == "member_not_found":
        raise MemberNotFound(_("No member with this number."))
    if status == "stored":
        if result["body_hash"] != event.digest:
            raise IdempotencyConflict(
                _("Event %(key)s was already received with a different body.") % {"key": event.key}
            )
        return Outcome(result["response"], False), None
    member_id = int(result["member_id"])
    if result["earned"]:  # as _credit does for an earning (a no-op unless switched on)
        tiers_instant_upgrade_schedule(member_id=member_id)
    stored = result["answer"]
    answer = {
        "id": stored["id"],
        "type": stored["type"],
        "member": stored["member"],
        "points": stored["points"],
        "entries": [
            {"points": e["points"], "kind": e["kind"], "reason": e["reason"]}
            for e in stored["entries"]
        ],
        "balance": stored["balance"],
    }
    return Outcome(answer, True), member_id


def _call(params: list[Any]) -> dict[str, Any]:
    """One execution with server-side binding: Django's cursors compose the whole query text
    client-side (escaping ~1 KB of templates each time), a plain psycopg cursor sends the
    parameters apart, and psycopg prepares the statement after its fifth use on a connection
    (DATABASES OPTIONS prepare_threshold), so PostgreSQL parses and plans it once. Wrapped
    as Django wraps its own cursors: its error classes, execute wrappers and query log."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(SQL, params)
        row = cursor.fetchone()
    assert row is not None
    value = row[0]
    return json.loads(value) if isinstance(value, str) else value
