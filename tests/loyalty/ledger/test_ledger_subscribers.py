"""The ledger's subscriber of member.created (through the outbox): a new member's account is
opened once, however often the event is handed over, and a failure is retried."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from core import outbox
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger import subscribers
from loyalty.ledger.models import Account
from members.services import member_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.outbox_wakes_celery]

OPEN = "loyalty.ledger.subscribers.account_open_for_new_member"
WEBHOOKS = "webhooks.subscribers.enqueue"


def test_member_created_is_recorded_with_the_member_and_opens_the_account_once() -> None:
    member = member_create(email="new@example.com", name="New")
    event = OutboxEvent.objects.get(type="member.created")
    assert (event.member_id, event.member_seq, event.subject) == (
        member.pk,
        1,
        {"member": member.number},
    )
    assert not Account.objects.filter(member=member).exists()  # not until it is dispatched
    outbox.fan_out()
    # (and to webhooks, as every event)
    assert list(
        event.deliveries.exclude(subscriber=WEBHOOKS).values_list("subscriber", flat=True)
    ) == [OPEN]

    outbox.dispatch()
    assert event.deliveries.get(subscriber=OPEN).status == "done"
    assert Account.objects.filter(member=member).count() == 1
    assert outbox.dispatch() == 0  # done: never handed over again

    # A second hand-over of the same event (a dispatcher killed after the subscriber's
    # commit could not do this: its effects and "done" commit together) changes nothing.
    subscribers.account_open_for_new_member([event])
    assert Account.objects.filter(member=member).count() == 1


def test_a_failing_account_open_is_retried_and_the_event_kept(monkeypatch: Any) -> None:
    calls: list[int] = []
    real = subscribers.account_open

    def fails_twice(*, member_id: int) -> Account:
        calls.append(member_id)
        if len(calls) <= 2:
            raise RuntimeError("database hiccup")
        return real(member_id=member_id)

    monkeypatch.setattr(subscribers, "account_open", fails_twice)
    member = member_create(email="retry@example.com")
    outbox.fan_out()
    delivery = OutboxDelivery.objects.get(subscriber=OPEN)
    for _ in range(3):
        OutboxDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        outbox.dispatch()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (OutboxDelivery.Status.DONE, 3)
    assert Account.objects.filter(member=member).count() == 1
