"""Applying the shop's events, each whole and once per (API key, event id).

- Earning events (`order.received`, `review.posted`, `club.posted`) and the member-center visit
  go through `events_apply`: the engine reads a snapshot of the members under their account
  locks (`store.snapshot_read`), the planner applies every earning rule to it
  (`planner.plan`), and the plan is written in one statement (`store.plan_write`). One event or
  five hundred, the same code. If the database refuses the write (a concurrent twin took an
  event id, order number or review id after the snapshot), the run is applied again event by
  event, each then seeing the twin (a replay, or a refusal).
- Ledger events (`order.returned`, `order.fraud`) and redemptions are postings on the ledger
  (reversals, spending: `loyalty.services`), applied by `event_ingest` under the same
  idempotency: the event row first, the answer stored with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from loyalty.earning.models import Event, Order
from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import (
    POINTS_EARNED,
    Kind,
    LedgerError,
    Source,
    _debit,
    _reverse,
    account_lock,
)
from loyalty.program.models import Program
from members.models import ApiKey

from . import store
from .planner import (
    EarningEvent,
    IdempotencyConflict,
    MemberNotFound,
    Outcome,
    Plan,
    Result,
    VisitMade,
    event_admissible,
    plan,
    reads,
)
from .program import program_state

logger = logging.getLogger(__name__)


class KeyRevoked(LedgerError):
    """The API key was revoked before the members' locks were taken: nothing is applied (the
    same code as a revoked key refused at authentication)."""

    code = "invalid_api_key"
    status = 401


class OrderNotFound(LedgerError):
    code = "order_not_found"
    status = 422


# --- Earning events: the engine ---------------------------------------------------------------
def events_apply(*, api_key: ApiKey | None, events: Sequence[EarningEvent]) -> list[Result]:
    """Apply `events` in order; one result per event (an Outcome, a refusal, or None for a
    visit already recorded). Each event is applied whole or not at all."""
    if not events:
        return []
    assert api_key is not None or all(isinstance(e, VisitMade) for e in events), (
        "the shop's events need their API key"
    )
    try:
        return _apply(api_key, events)
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not _deadlock(exc):
            raise
        logger.warning(
            "a run of %d events met a concurrent writer (%s); applying them one at a time",
            len(events),
            type(exc).__name__,
        )
    results: list[Result] = []
    for event in events:
        try:
            results.extend(_apply(api_key, [event]))
        except IntegrityError:  # its twin committed meanwhile: now the snapshot shows it
            results.extend(_apply(api_key, [event]))
    return results


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _apply(api_key: ApiKey | None, events: Sequence[EarningEvent]) -> list[Result]:
    """One run in one transaction: its own (store.own_transaction), or a savepoint in the
    caller's. The write records its `points.earned` events; a dispatcher is woken after the
    commit (their subscribers: the instant-upgrade check, later webhooks)."""
    api_key_id = api_key.pk if api_key is not None else None
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            result = _run(api_key_id, events)
    else:
        with store.own_transaction():
            result = _run(api_key_id, events)
    if result.earned:
        outbox.wake_after_commit(POINTS_EARNED)
    return result.results


def _run(api_key_id: int | None, events: Sequence[EarningEvent]) -> Plan:
    """Snapshot (with the program as of it), plan, write."""
    program = program_state()
    snapshot, version = store.snapshot_read(
        program=program, api_key_id=api_key_id, events=events, reads=reads(program, events)
    )
    if version != program.version:  # the settings changed since the memo: read them again
        program = program_state(version)
        snapshot, version = store.snapshot_read(
            program=program, api_key_id=api_key_id, events=events, reads=reads(program, events)
        )
    if not snapshot.key_active:
        refused = [KeyRevoked(_("Invalid or revoked API key.")) for _event in events]
        return Plan(results=list(refused))
    result = plan(snapshot, events)
    store.plan_write(result, api_key_id=api_key_id)
    return result


# --- Ledger events: reversals and spending ----------------------------------------------------
@dataclass(frozen=True)
class LedgerEvent:
    """`order.returned` or `order.fraud` (data: the order number, maybe `returned_amount`), or
    a redemption (data: `points`, `reason`)."""

    type: str
    key: str
    member_number: str
    occurred_at: datetime
    data: dict[str, Any]
    digest: str


def _order_for(member_id: int, number: str) -> Order:
    order = Order.objects.select_for_update().filter(number=number, member_id=member_id).first()
    if order is None:
        raise OrderNotFound(
            _("No order %(number)s was received for this member.") % {"number": number}
        )
    return order


def _reverse_order(
    account: Any,
    order: Order,
    *,
    share: Decimal,
    reason: str,
    occurred_at: datetime,
    source: Source,
) -> list[PointEntry]:
    """Reverse each of the order's earnings down to `share` (0..1) of it in total.

    Cumulative targets (floor(points * share) reversed in all) keep repeated partial returns
    exact: returning the whole order in parts reverses every point, never more."""
    earnings = list(order.entries.filter(kind=Kind.EARN, points__gt=0).order_by("id"))
    reversed_so_far = dict(
        PointEntry.objects.filter(reverses__in=earnings, kind=Kind.REVERSE)
        .values_list("reverses")
        .annotate(s=Sum("points"))
        .values_list("reverses", "s")
    )
    entries = []
    for earning in earnings:
        target = int((earning.points * share).to_integral_value(rounding=ROUND_FLOOR))
        delta = target + (reversed_so_far.get(earning.pk) or 0)
        if delta > 0:
            entries.append(
                _reverse(
                    account,
                    earning,
                    points=delta,
                    occurred_at=occurred_at,
                    reason=reason,
                    source=source,
                    order_id=order.pk,
                )
            )
    return entries


def order_return(
    account: Any, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    order = _order_for(account.member_id, data["order"]["number"])
    left = order.amount - order.returned_amount
    amount = data.get("returned_amount")
    amount = left if amount is None else Decimal(amount)
    if left <= 0 or amount > left:
        raise ValidationError(
            {
                "returned_amount": _(
                    "Only %(left)s %(currency)s of order %(number)s is left to return."
                )
                % {"left": left, "currency": order.currency, "number": order.number}
            }
        )
    returned = order.returned_amount + amount
    Order.objects.filter(pk=order.pk).update(returned_amount=returned)
    if order.fraud:
        return []
    return _reverse_order(
        account,
        order,
        share=returned / order.amount,
        reason=_("order %(number)s returned (%(amount)s of %(total)s %(currency)s)")
        % {
            "number": order.number,
            "amount": amount,
            "total": order.amount,
            "currency": order.currency,
        },
        occurred_at=occurred_at,
        source=source,
    )


def order_flag_fraud(
    account: Any, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    order = _order_for(account.member_id, data["order"]["number"])
    Order.objects.filter(pk=order.pk).update(fraud=True)
    return _reverse_order(
        account,
        order,
        share=Decimal(1),
        reason=_("order %(number)s flagged as fraud") % {"number": order.number},
        occurred_at=occurred_at,
        source=source,
    )


def redemption(
    account: Any, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    return [
        _debit(
            account,
            kind=Kind.REDEEM,
            points=data["points"],
            occurred_at=occurred_at,
            reason=data.get("reason") or _("points spent"),
            source=source,
        )
    ]


Handler = Callable[..., list[PointEntry]]
LEDGER_HANDLERS: dict[str, Handler] = {
    "order.returned": order_return,
    "order.fraud": order_flag_fraud,
    "redemption": redemption,
}


def event_ingest(*, api_key: ApiKey, event: LedgerEvent, member_id: int) -> Outcome:
    """Apply one ledger event whole, once per (API key, event id).

    The member's account is locked first, then the event row is inserted (the order the engine
    takes too, so the two cannot deadlock): a concurrent twin waits on the lock or on the
    unique index and then fails, finds the committed row and answers its stored answer (or a
    conflict when the body differs). Any error rolls back everything, the event row included."""
    handler = LEDGER_HANDLERS[event.type]
    if event.type != "redemption":  # the shop's events: the program's terms
        invalid = event_admissible(
            Program.load(), now=timezone.now(), occurred_at=event.occurred_at
        )
        if invalid is not None:
            raise invalid
    try:
        with transaction.atomic():
            account = account_lock(member_id=member_id)
            if not ApiKey.objects.active().filter(pk=api_key.pk).exists():  # revoked meanwhile
                raise KeyRevoked(_("Invalid or revoked API key."))
            row = Event.objects.create(
                api_key=api_key,
                key=event.key,
                type=event.type,
                member_id=member_id,
                body_hash=event.digest,
            )
            source = Source(api_key=api_key, event_id=row.pk)
            entries = handler(
                account, data=event.data, occurred_at=event.occurred_at, source=source
            )
            answer = {
                "id": event.key,
                "type": event.type,
                "member": event.member_number,
                "points": sum(e.points for e in entries),
                "entries": [
                    {"points": e.points, "kind": e.kind, "reason": e.reason} for e in entries
                ],
                "balance": account.balance,
            }
            Event.objects.filter(pk=row.pk).update(response=answer)
    except IntegrityError:
        existing = Event.objects.filter(api_key=api_key, key=event.key).first()
        if existing is None:
            raise
        if existing.body_hash != event.digest:
            raise IdempotencyConflict(
                _("Event %(key)s was already received with a different body.") % {"key": event.key}
            ) from None
        return Outcome(existing.response, False)
    return Outcome(answer, True)


__all__ = [
    "KeyRevoked",
    "LedgerEvent",
    "MemberNotFound",
    "OrderNotFound",
    "event_ingest",
    "events_apply",
]
