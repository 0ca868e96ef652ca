"""The webhooks' subscriber: every event type reaches it, it writes a message per (active
endpoint subscribed to the type, event) once, and queues a sender per endpoint after the
commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings

from members.models import ApiKey
from webhooks.models import EVENT_TYPES, WebhookMessage
from webhooks.services import endpoint_disable
from webhooks.subscribers import enqueue

from .support import Receiver, make_endpoint, record

pytestmark = pytest.mark.django_db


def test_the_settings_hand_every_event_type_to_the_webhooks_subscriber() -> None:
    for event_type in EVENT_TYPES:
        assert "webhooks.subscribers.enqueue" in django_settings.OUTBOX_SUBSCRIBERS[event_type]


@pytest.mark.usefixtures("only_webhooks")
def test_a_message_per_subscribed_active_endpoint_and_event_once_and_senders_queued(
    owner: ApiKey,
    make_receiver: Any,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    every = make_endpoint(owner, make_receiver())
    tiers = make_endpoint(owner, make_receiver(), event_types=["tier.changed"])
    off = make_endpoint(owner, make_receiver())
    endpoint_disable(endpoint_id=off.pk, reason="test")

    with django_capture_on_commit_callbacks(execute=True):
        tier = record("tier.changed")
        coupon = record("coupon.issued")
    assert sorted(WebhookMessage.objects.values_list("endpoint_id", "event_id")) == sorted(
        [(every.pk, tier.pk), (tiers.pk, tier.pk), (every.pk, coupon.pk)]
    )
    assert sorted(queued) == sorted(
        [
            ("webhooks.send_endpoint", (every.pk,)),
            ("webhooks.send_endpoint", (tiers.pk,)),
            ("webhooks.send_endpoint", (every.pk,)),
        ]
    )

    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue([tier, coupon])  # handed over again (a redelivery): nothing new
    assert WebhookMessage.objects.count() == 3
    assert queued == []


def test_the_message_copies_the_events_member_and_sequence(
    owner: ApiKey, receiver: Receiver, only_webhooks: None
) -> None:
    endpoint = make_endpoint(owner, receiver)
    first = record("points.earned", member_id=42)
    second = record("points.reversed", member_id=42)
    rows = WebhookMessage.objects.filter(endpoint=endpoint).order_by("id")
    assert [(m.event_id, m.member_id, m.member_seq, m.status, m.attempts) for m in rows] == [
        (first.pk, 42, first.member_seq, "pending", 0),
        (second.pk, 42, second.member_seq, "pending", 0),
    ]
    assert second.member_seq == first.member_seq + 1
