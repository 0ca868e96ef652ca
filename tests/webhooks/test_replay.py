"""Replay since a chosen moment: exactly the events that occurred since it, whatever the order
of their primary keys (a long transaction writes an earlier moment under a later key); found
through the unique index of event ids, not a scan of the events table; idempotent while
pending; a member's replayed messages still go out in the member's order; a start in the
future is refused and changes nothing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.models import OutboxEvent
from core.outbox import event_id_floor
from members.models import ApiKey
from webhooks.delivery import endpoint_send
from webhooks.models import WebhookMessage
from webhooks.services import _REPLAY_SQL, ReplayRefused, endpoint_replay, owner_scope_params

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks")]


def _written_at(moment: datetime) -> UUID:
    """An event id as core_outbox_event_id makes it for a row written at `moment`."""
    return UUID(int=event_id_floor(moment).int | random.getrandbits(64))


def _at(event: OutboxEvent, occurred_at: datetime, written_at: datetime) -> None:
    OutboxEvent.objects.filter(pk=event.pk).update(
        occurred_at=occurred_at, event_id=_written_at(written_at)
    )


def _delivered() -> None:
    WebhookMessage.objects.update(status="delivered", delivered_at=timezone.now())


def _pending_events() -> set[int]:
    return set(WebhookMessage.objects.filter(status="pending").values_list("event_id", flat=True))


def test_replay_takes_exactly_the_events_since_the_moment_whatever_their_keys(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    make_endpoint(owner, receiver)
    since = (timezone.now() - timedelta(days=1)).replace(microsecond=500)
    # In key order: each event's moment and the moment its row was written.
    later = record("tier.changed", member_id=1)  # the lowest key, since the moment
    _at(later, since + timedelta(minutes=5), since + timedelta(minutes=5))
    before = record("tier.changed", member_id=2)
    _at(before, since - timedelta(hours=1), since - timedelta(hours=1))
    at_the_moment = record("tier.changed", member_id=3)
    _at(at_the_moment, since, since)
    # Occurred 0.1 ms before it, written in the same millisecond: inside the id bound, out.
    same_millisecond = record("tier.changed", member_id=4)
    _at(same_millisecond, since - timedelta(microseconds=100), since)
    # A long transaction: began before the moment, written after it, the highest key: out.
    long_transaction = record("tier.changed", member_id=5)
    _at(long_transaction, since - timedelta(seconds=1), since + timedelta(minutes=10))
    _delivered()

    assert endpoint_replay(endpoint_id=owner.webhook_endpoints.get().pk, since=since) == 2
    assert _pending_events() == {later.pk, at_the_moment.pk}


def test_replay_reads_the_events_through_the_index_of_event_ids() -> None:
    since = timezone.now() - timedelta(hours=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN {_REPLAY_SQL}",  # noqa: S608 (the service's own statement)
            {"endpoint": 1, "floor": event_id_floor(since), "since": since, **owner_scope_params()},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "core_outboxevent_event_id" in plan, plan
    assert "Seq Scan on core_outboxevent" not in plan, plan


def test_replaying_twice_while_pending_adds_nothing(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver)
    record("tier.changed", member_id=1)
    record("coupon.issued", member_id=2)
    _delivered()
    since = timezone.now() - timedelta(minutes=1)

    assert endpoint_replay(endpoint_id=endpoint.pk, since=since) == 2
    first = sorted(WebhookMessage.objects.values_list("pk", "event_id", "status"))
    assert endpoint_replay(endpoint_id=endpoint.pk, since=since) == 2
    assert sorted(WebhookMessage.objects.values_list("pk", "event_id", "status")) == first
    assert {status for _pk, _event, status in first} == {"pending"}


def test_a_members_replayed_messages_go_out_in_the_members_order(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver)
    first = record("points.earned", member_id=9)
    second = record("tier.changed", member_id=9)
    assert endpoint_send(endpoint_id=endpoint.pk) == 2
    receiver.received.clear()

    endpoint_replay(endpoint_id=endpoint.pk, since=timezone.now() - timedelta(minutes=1))
    receiver.statuses = [503]  # the first fails: the second waits for it
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids() == [str(first.event_id)]
    assert WebhookMessage.objects.get(event=second).attempts == 0

    WebhookMessage.objects.update(next_attempt_at=timezone.now())
    assert endpoint_send(endpoint_id=endpoint.pk) == 2
    assert receiver.ids() == [str(first.event_id), str(first.event_id), str(second.event_id)]


def test_a_start_in_the_future_is_refused_and_changes_nothing(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver)
    record("tier.changed")
    _delivered()
    with pytest.raises(ReplayRefused) as refused:
        endpoint_replay(endpoint_id=endpoint.pk, since=timezone.now() + timedelta(minutes=1))
    assert refused.value.code == "replay_since_in_the_future"
    assert list(WebhookMessage.objects.values_list("status", flat=True)) == ["delivered"]
    assert queued == []


def test_the_event_id_floor_is_the_ids_millisecond_prefix() -> None:
    moment = datetime.fromisoformat("2026-03-14T09:41:07.512999+00:00")
    milliseconds = 1773481267512
    assert event_id_floor(moment) == UUID(f"{milliseconds:012x}" + "0" * 20)
    with connection.cursor() as cursor:
        cursor.execute("SELECT core_outbox_event_id()")
        (made,) = cursor.fetchone()
    assert event_id_floor(timezone.now() - timedelta(seconds=1)) < made
    assert made < event_id_floor(timezone.now() + timedelta(seconds=1))
