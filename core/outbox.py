"""Domain events through a transactional outbox.

A write that others care about calls `emit(...)` inside its transaction: the event row is
written with the change, so it commits or vanishes with it. After the commit a dispatcher is
woken (Celery, `core.outbox_dispatch`), and beat runs it every minute too, so nothing waits on
a lost wake-up.

The dispatcher works in two steps, each set-based:
1. Fan-out: it takes the committed events not handed out yet, in id order, and writes one
   delivery per subscriber of their type (settings.OUTBOX_SUBSCRIBERS, type -> dotted paths).
   One dispatcher fans out at a time (an advisory lock), so a member's events get their
   deliveries in their order. The writing transaction stays one row per event: a job that
   records thousands of changes pays for the events alone.
2. Delivery: for each subscriber in turn it takes a batch of its due deliveries under row
   locks (`SKIP LOCKED`: dispatchers run side by side without taking the same one) and hands
   the batch's events to the subscriber in the same transaction that marks them done: the
   subscriber's database effects and "done" commit together, so a dispatcher killed half-way
   leaves the batch pending and its effects undone.

A subscriber is a function taking a list of events. It either handles them all, or raises
(the batch is then tried again one event at a time, to find the one that fails), or returns
the events it could not handle with why ({event pk: exception}; their effects are its to
undo). A failed delivery is retried with exponential backoff and jitter, its error kept on the
delivery (admin: Outbox deliveries); after MAX_ATTEMPTS it is marked failed, still kept, and
staff can retry it. A member's events reach each subscriber in their order: a delivery waits
while an earlier one of the same member and subscriber is not done.

What a subscriber does outside the database (an email) can happen twice if the process dies
after it and before the commit: such subscribers keep their own unique key (the inbox notice's
"emailed" stamp) to make the repeat rare and harmless.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.module_loading import import_string
from psycopg.types.json import Jsonb

from .models import OutboxDelivery, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=5)  # 5 s, 10 s, 20 s... capped at BACKOFF_CAP, with jitter
BACKOFF_CAP = timedelta(hours=6)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_id_floor(moment: datetime) -> UUID:
    """The least `event_id` an event that occurred at or after `moment` can have: a bound
    that the unique index of event ids turns into a range scan ("the events since").

    Event ids start with the Unix milliseconds of the clock as the row is written
    (core_outbox_event_id, core migration 0002), and an event's `occurred_at` is its
    transaction's start, at or before that: so an event that occurred at or after `moment`
    has an id at or above this one, whatever the order of the primary keys (a long
    transaction writes earlier moments under later keys). The bound is only as good as the
    database server's clock, which must not step back."""
    milliseconds = (moment - _EPOCH) // timedelta(milliseconds=1)
    return UUID(int=max(milliseconds, 0) << 80)


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
    return _recorded(
        event_type,
        "SELECT core_outbox_emit(%s, %s, %s, %s::bigint[], %s::jsonb[], %s::jsonb[])",
        [
            event_type,
            version,
            subscribed(event_type),
            [e.member_id for e in events],
            [Jsonb(e.subject, dumps=_dumps) for e in events],
            [Jsonb(e.data, dumps=_dumps) for e in events],
        ],
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def emit_query(
    event_type: str, source: str, params: Sequence[Any], *, version: int = 1
) -> list[int]:
    """Record an event of `event_type` for each row of the query `source` (columns `ord`,
    `member_id`, `subject` jsonb, `data` jsonb), in the caller's transaction (required): the
    set-based form for a job that records thousands at once. Returns the events' ids."""
    columns = ", ".join(
        f"array_agg(s.{column} ORDER BY s.ord)" for column in ("member_id", "subject", "data")
    )
    return _recorded(
        event_type,
        # the caller's SQL, its values as parameters
        f"SELECT core_outbox_emit(%s, %s, %s, {columns}) FROM ({source}) AS s",  # noqa: S608
        [event_type, version, subscribed(event_type), *params],
    )


def _recorded(event_type: str, sql: str, params: Sequence[Any]) -> list[int]:
    """Run the statement that records events (core_outbox_emit, SQL beside the migrations)
    and wake a dispatcher after the commit."""
    assert connection.in_atomic_block, "emit inside the transaction of the change it records"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [int(i) for i in cursor.fetchone()[0] or ()]
    if ids:
        wake_after_commit(event_type)
    return ids


def subscribed(event_type: str) -> bool:
    """Whether anyone handles `event_type` (else its events are born handed out)."""
    return bool(subscribers(event_type))


def wake_after_commit(event_type: str) -> None:
    """Wake a dispatcher once the current transaction commits, when events of `event_type`
    were recorded in it and someone handles them (wake-ups are coalesced: see `wake`). For
    writers that record events in their own SQL (core_outbox_emit)."""
    if subscribed(event_type):
        transaction.on_commit(wake)


@shared_task(name="core.outbox_dispatch")
def outbox_dispatch_task(limit: int = 5000) -> int:
    """Dispatch what is due; more may be due after `limit`: go on in a fresh task."""
    with suppress(Exception):
        cache.delete(WAKE_KEY)  # a commit from now on wakes another dispatcher
    handled = dispatch(limit)
    if handled >= limit:
        outbox_dispatch_task.delay(limit)
    return handled


# Wake-ups are coalesced: a commit queues a dispatch only when none is queued yet (the key,
# deleted by the dispatch as it starts, so a commit after that start queues the next one).
# Thousands of small commits a second (ingestion) then queue a dispatch at a time, not
# thousands. The key's lifetime bounds a lost dispatch task: after it, commits queue again.
WAKE_KEY = "outbox:wake-queued"
WAKE_TTL = 10  # seconds


def wake() -> None:
    """Ask a worker to dispatch now (unless a dispatch is already queued). Never raises: it
    runs after a commit, and beat's sweep delivers what a lost wake-up leaves."""
    try:
        if not cache.add(WAKE_KEY, 1, timeout=WAKE_TTL):
            return
    except Exception:  # no cache: wake anyway
        log.warning("outbox: the cache is away; waking without coalescing", exc_info=True)
    try:
        outbox_dispatch_task.delay()
    except Exception:  # the broker is down
        with suppress(Exception):
            cache.delete(WAKE_KEY)
        log.warning("outbox: could not wake the dispatcher; beat will", exc_info=True)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling from BACKOFF_BASE, capped, +-20 %."""
    wait = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return wait * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrecy)


# The events not handed out yet, oldest first, become a delivery per subscriber of their
# type. One fan-out at a time (the transaction's advisory lock; another dispatcher waits for
# it, a short step, and its statement then sees what the first handed out): a member's later
# event is never handed out before an earlier one, as their commits follow their sequence
# (the member's sequence row is locked until commit).
_FAN_OUT_SQL = """
WITH claimed AS (
    SELECT id, type, member_id, member_seq FROM core_outboxevent
    WHERE fanned_out_at IS NULL ORDER BY id LIMIT %s
),
marked AS (
    UPDATE core_outboxevent e SET fanned_out_at = now() FROM claimed WHERE e.id = claimed.id
),
routes AS (
    SELECT * FROM unnest(%s::text[], %s::text[]) AS r(type, path)
),
deliveries AS (
    INSERT INTO core_outboxdelivery (event_id, subscriber, member_id, member_seq, status,
                                     attempts, next_attempt_at, last_error)
    SELECT c.id, r.path, c.member_id, c.member_seq, 'pending', 0, now(), ''
    FROM claimed c JOIN routes r ON r.type = c.type
    ORDER BY c.id
    ON CONFLICT (event_id, subscriber) DO NOTHING
)
SELECT count(*) FROM claimed
"""
_FAN_OUT_LOCK = 0x6F7574626F78  # "outbox": the advisory lock key of the fan-out step
FAN_OUT_BATCH = 5000
DELIVERY_BATCH = 200


def _routes() -> tuple[list[str], list[str]]:
    configured: dict[str, list[str]] = getattr(settings, "OUTBOX_SUBSCRIBERS", {})
    pairs = [(t, path) for t, paths in configured.items() for path in paths]
    return [t for t, _p in pairs], [p for _t, p in pairs]


def fan_out(limit: int = FAN_OUT_BATCH) -> int:
    """Hand up to `limit` committed events to their subscribers (a delivery each); how many
    events were handed out. Waits while another dispatcher fans out (a short step), then
    sees what that one handed out and what committed since."""
    types, paths = _routes()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FAN_OUT_LOCK])
        cursor.execute(_FAN_OUT_SQL, [limit, types, paths])
        return int(cursor.fetchone()[0])


def members_turn(queue: QuerySet[Any], scope: str) -> Q:
    """Keep a row of a per-member queue (rows with `member_id` and `member_seq`) only when it
    is its member's earliest in `queue` (the rows still open) within the same `scope` (a
    column: the subscriber, the endpoint); rows without a member are always kept. Shaped for a
    LIMIT over a large backlog: a scalar subquery, which PostgreSQL runs per row as one probe
    of the queue's (scope, member_id, member_seq) index whatever its statistics say (a NOT
    EXISTS became an anti-join over the whole backlog when a fresh one was not analyzed yet).
    Used by the dispatcher and by the webhooks' sender."""
    earliest = (
        queue.filter(**{scope: OuterRef(scope), "member_id": OuterRef("member_id")})
        .order_by("member_seq")
        .values("member_seq")[:1]
    )
    return Q(member_id__isnull=True) | Q(member_seq=Subquery(earliest))


def _due(subscriber: str) -> Any:
    """The subscriber's deliveries due now, oldest first (the due index's order,
    outbox_delivery_due: the scan stops at the batch's end); a member's delivery waits while
    an earlier one of the same member is not done."""
    not_done = OutboxDelivery.objects.exclude(status=OutboxDelivery.Status.DONE)
    return OutboxDelivery.objects.filter(
        members_turn(not_done, "subscriber"),
        subscriber=subscriber,
        status=OutboxDelivery.Status.PENDING,
        next_attempt_at__lte=timezone.now(),
    ).order_by("next_attempt_at", "id")


def dispatch(limit: int = 5000) -> int:
    """Hand out the committed events, then hand due deliveries to their subscribers, a batch
    of one subscriber per transaction; returns how many deliveries were handled (done or
    failed an attempt). Safe to run in many processes at once."""
    handled = 0
    paths = list(dict.fromkeys(_routes()[1]))
    while handled < limit:
        fanned = fan_out()
        progress = bool(fanned)
        for path in paths:
            with transaction.atomic():
                batch = list(
                    _due(path)
                    .select_for_update(skip_locked=True, of=("self",))
                    .select_related("event")[: min(DELIVERY_BATCH, limit - handled)]
                )
                if batch:
                    # in member order: subscribers that lock members (accounts, sequences)
                    # take them in the order every writer does
                    batch.sort(key=lambda d: (d.member_id or 0, d.pk))
                    _attempt(path, batch)
            handled += len(batch)
            progress = progress or bool(batch)
            if handled >= limit:
                break
        if not progress:
            break
    return handled


def _attempt(path: str, deliveries: list[OutboxDelivery]) -> None:
    """Hand these deliveries' events to the subscriber `path`, in the caller's transaction,
    and record what came of each."""
    failures: dict[int, BaseException] = {}
    try:
        with transaction.atomic():  # a savepoint: a failure undoes the subscriber's writes only
            failures = dict(import_string(path)([d.event for d in deliveries]) or {})
    except Exception as exc:
        if len(deliveries) > 1:  # one of them fails: find which, one at a time
            for delivery in deliveries:
                _attempt(path, [delivery])
            return
        failures = {deliveries[0].event_id: exc}
    now = timezone.now()
    done = [d.pk for d in deliveries if d.event_id not in failures]
    OutboxDelivery.objects.filter(pk__in=done).update(
        status=OutboxDelivery.Status.DONE,
        attempts=F("attempts") + 1,
        done_at=now,
        last_error="",
    )
    for delivery in deliveries:
        if delivery.event_id in failures:
            _failed(delivery, failures[delivery.event_id])


def _failed(delivery: OutboxDelivery, exc: BaseException) -> None:
    delivery.attempts += 1
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
    delivery.save(update_fields=["attempts", "status", "next_attempt_at", "last_error"])


def retry(deliveries: Any) -> int:
    """Staff: try these deliveries again now (failed ones included)."""
    return deliveries.exclude(status=OutboxDelivery.Status.DONE).update(
        status=OutboxDelivery.Status.PENDING, next_attempt_at=timezone.now()
    )
