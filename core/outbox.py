"""Domain events through a transactional outbox.

A write that others care about calls `emit(...)` inside its transaction: the event and one
delivery per subscriber of its type (settings.OUTBOX_SUBSCRIBERS, type -> dotted paths of
functions taking the event) are written with the change, so they commit or vanish with it.
After the commit a dispatcher is woken (Celery, `core.outbox_dispatch`), and beat runs it
every minute too, so nothing waits on a lost wake-up.

The dispatcher takes one due delivery at a time under a row lock (`SKIP LOCKED`: dispatchers
run side by side without taking the same one), and calls the subscriber in the same
transaction that marks the delivery done: the subscriber's database effects and "done" commit
together, so a dispatcher killed half-way leaves the delivery pending and its effects undone.
A subscriber that raises is retried with exponential backoff and jitter, its error kept on
the delivery (admin: Outbox deliveries); after MAX_ATTEMPTS it is marked failed, still kept,
and staff can retry it. A member's events reach each subscriber in their order: a delivery
waits while an earlier one of the same member and subscriber is not done.

What a subscriber does outside the database (an email) can happen twice if the process dies
after it and before the commit: such subscribers keep their own unique key (the inbox notice's
"emailed" stamp) to make the repeat rare and harmless.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import OutboxDelivery, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=5)  # 5 s, 10 s, 20 s... capped at BACKOFF_CAP, with jitter
BACKOFF_CAP = timedelta(hours=6)


def subscribers(event_type: str) -> list[str]:
    """The dotted paths of the functions that handle `event_type` (settings)."""
    configured: dict[str, list[str]] = getattr(settings, "OUTBOX_SUBSCRIBERS", {})
    return list(configured.get(event_type, ()))


@dataclass(frozen=True)
class Event:
    """One event to record: whose it is (the member, for their sequence), the ids of what it
    is about, and its payload."""

    data: dict[str, Any]
    member_id: int | None = None
    subject: dict[str, Any] = field(default_factory=dict)


def emit(
    event_type: str,
    data: dict[str, Any],
    *,
    member_id: int | None = None,
    subject: dict[str, Any] | None = None,
    version: int = 1,
) -> OutboxEvent:
    """Record that `event_type` happened, in the caller's transaction (required)."""
    (event_id,) = emit_many(
        event_type, [Event(data=data, member_id=member_id, subject=subject or {})], version=version
    )
    return OutboxEvent.objects.get(pk=event_id)


def emit_many(event_type: str, events: Sequence[Event], *, version: int = 1) -> list[int]:
    """Record many events of one type at once, in the caller's transaction; their ids."""
    if not events:
        return []
    rows = [
        {"ord": i, "member_id": e.member_id, "subject": e.subject, "data": e.data}
        for i, e in enumerate(events)
    ]
    source = (
        "SELECT ord, member_id, subject, data FROM jsonb_to_recordset(%s::jsonb)"
        " AS r(ord bigint, member_id bigint, subject jsonb, data jsonb)"
    )
    return emit_query(
        event_type, source, [json.dumps(rows, cls=DjangoJSONEncoder)], version=version
    )


# Two statements record a set of events. The first takes the members' next sequence numbers
# (one upsert, rows taken in member order, so two writers cannot deadlock on them; they stay
# locked until the transaction ends, so a member's numbers follow the order in which their
# transactions commit). The second writes the events in the source's order (`ord`), each
# member's numbered up to the number just taken, and a delivery per subscriber. (In one
# statement the planner cannot know how many rows the upsert returns, and joins them badly.)
_SEQUENCES_SQL = """
WITH src AS ({source})
INSERT INTO core_outboxsequence (member_id, last)
SELECT member_id, count(*) FROM src WHERE member_id IS NOT NULL GROUP BY member_id
ORDER BY member_id
ON CONFLICT (member_id) DO UPDATE SET last = core_outboxsequence.last + EXCLUDED.last
"""
_EVENTS_SQL = """
WITH src AS ({source}),
numbered AS (
    SELECT src.ord, src.member_id, src.subject, src.data,
           q.last - count(*) OVER (PARTITION BY src.member_id)
               + row_number() OVER (PARTITION BY src.member_id ORDER BY src.ord) AS member_seq
    FROM src LEFT JOIN core_outboxsequence q ON q.member_id = src.member_id
),
events AS (
    INSERT INTO core_outboxevent
        (event_id, type, version, occurred_at, member_id, member_seq, subject, data, created_at)
    SELECT core_outbox_event_id(), %s, %s, now(), member_id, member_seq, subject, data, now()
    FROM numbered ORDER BY ord
    RETURNING id, member_id, member_seq
),
deliveries AS (
    INSERT INTO core_outboxdelivery (event_id, subscriber, member_id, member_seq, status,
                                     attempts, next_attempt_at, last_error)
    SELECT events.id, s.path, events.member_id, events.member_seq, 'pending', 0, now(), ''
    FROM events CROSS JOIN unnest(%s::text[]) AS s(path)
)
SELECT id FROM events ORDER BY id
"""


def emit_query(
    event_type: str, source: str, params: Sequence[Any], *, version: int = 1
) -> list[int]:
    """Record an event of `event_type` for each row of the query `source` (columns `ord`,
    `member_id`, `subject` jsonb, `data` jsonb), in the caller's transaction (required): the
    set-based form for a job that records thousands at once. Returns the events' ids."""
    assert connection.in_atomic_block, "emit inside the transaction of the change it records"
    paths = subscribers(event_type)
    with connection.cursor() as cursor:
        cursor.execute(_SEQUENCES_SQL.format(source=source), params)
        cursor.execute(_EVENTS_SQL.format(source=source), [*params, event_type, version, paths])
        ids = [int(row[0]) for row in cursor.fetchall()]
    if ids and paths:
        transaction.on_commit(wake)
    return ids


@shared_task(name="core.outbox_dispatch")
def outbox_dispatch_task(limit: int = 500) -> int:
    """Dispatch what is due; more may be due after `limit`: go on in a fresh task."""
    handled = dispatch(limit)
    if handled >= limit:
        outbox_dispatch_task.delay(limit)
    return handled


def wake() -> None:
    """Ask a worker to dispatch now."""
    try:
        outbox_dispatch_task.delay()
    except Exception:  # the broker is down: beat's sweep delivers it
        log.warning("outbox: could not wake the dispatcher; beat will", exc_info=True)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling from BACKOFF_BASE, capped, +-20 %."""
    wait = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return wait * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrecy)


def _due() -> Any:
    earlier_pending = OutboxDelivery.objects.filter(
        subscriber=OuterRef("subscriber"),
        member_id=OuterRef("member_id"),
        member_seq__lt=OuterRef("member_seq"),
    ).exclude(status=OutboxDelivery.Status.DONE)
    return (
        OutboxDelivery.objects.filter(
            status=OutboxDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .exclude(Exists(earlier_pending))
        .order_by("next_attempt_at", "id")
    )


def dispatch(limit: int = 500) -> int:
    """Hand due deliveries to their subscribers, one transaction each; returns how many were
    handled (done or failed an attempt). Safe to run in many processes at once."""
    handled = 0
    while handled < limit:
        with transaction.atomic():
            delivery = (
                _due()
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("event")
                .first()
            )
            if delivery is None:
                break
            _attempt(delivery)
        handled += 1
    return handled


def _attempt(delivery: OutboxDelivery) -> None:
    delivery.attempts += 1
    try:
        with transaction.atomic():  # a savepoint: a failure undoes the subscriber's writes only
            import_string(delivery.subscriber)(delivery.event)
    except Exception as exc:
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = OutboxDelivery.Status.FAILED
            log.error(
                "outbox: %s gave up on %s #%s after %s attempts: %s",
                delivery.subscriber,
                delivery.event.type,
                delivery.event_id,
                delivery.attempts,
                delivery.last_error,
            )
        else:
            delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
            log.warning(
                "outbox: %s failed on %s #%s (attempt %s): %s",
                delivery.subscriber,
                delivery.event.type,
                delivery.event_id,
                delivery.attempts,
                delivery.last_error,
            )
    else:
        delivery.status = OutboxDelivery.Status.DONE
        delivery.done_at = timezone.now()
        delivery.last_error = ""
    delivery.save(update_fields=["attempts", "status", "next_attempt_at", "last_error", "done_at"])


def retry(deliveries: Any) -> int:
    """Staff: try these deliveries again now (failed ones included)."""
    return deliveries.exclude(status=OutboxDelivery.Status.DONE).update(
        status=OutboxDelivery.Status.PENDING, next_attempt_at=timezone.now()
    )
