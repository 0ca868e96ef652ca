"""What staff do (admin actions, through the services) and beat's sweep: replay, resend,
disable and enable, and the senders queued for endpoints with something due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from core.models import OutboxEvent
from members.models import ApiKey
from tests.factories import MemberFactory
from webhooks import tasks
from webhooks.delivery import endpoint_send
from webhooks.models import WebhookEndpoint, WebhookMessage
from webhooks.services import (
    endpoint_disable,
    endpoint_enable,
    endpoint_replay,
    messages_resend,
)

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks")]


def test_replay_sends_the_endpoints_events_since_again_with_the_same_ids(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver, event_types=["tier.changed"])
    old = record("tier.changed")
    OutboxEvent.objects.filter(pk=old.pk).update(occurred_at=timezone.now() - timedelta(days=2))
    recent = record("tier.changed", member_id=8)
    record("coupon.issued")  # not a type it wants
    endpoint_send(endpoint_id=endpoint.pk)
    assert len(receiver.received) == 2

    assert endpoint_replay(endpoint_id=endpoint.pk, since=timezone.now() - timedelta(days=1)) == 1
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids()[-1] == str(recent.event_id)
    assert WebhookMessage.objects.get(event=recent).status == "delivered"


def test_resend_now_sends_a_delivered_message_again(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver)
    event = record("coupon.redeemed")
    endpoint_send(endpoint_id=endpoint.pk)
    message = WebhookMessage.objects.get()
    assert messages_resend(message_ids=[message.pk]) == 1
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids() == [str(event.event_id)] * 2
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("delivered", 1)


def test_a_disabled_endpoint_gets_no_new_messages_and_sends_what_waited_when_enabled(
    owner: ApiKey,
    receiver: Receiver,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    endpoint = make_endpoint(owner, receiver)
    waiting = record("tier.changed")
    assert endpoint_disable(endpoint_id=endpoint.pk, reason="maintenance")
    assert not endpoint_disable(endpoint_id=endpoint.pk, reason="again")
    record("tier.changed", member_id=8)  # while disabled: not for it
    assert endpoint_send(endpoint_id=endpoint.pk) == 0
    WebhookMessage.objects.update(next_attempt_at=timezone.now() + timedelta(hours=5))

    with django_capture_on_commit_callbacks(execute=True):
        assert endpoint_enable(endpoint_id=endpoint.pk)
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids() == [str(waiting.event_id)]
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason, endpoint.disabled_at) == (True, "", None)


def test_beat_queues_a_sender_for_each_active_endpoint_with_a_message_due(
    owner: ApiKey, make_receiver: Any, monkeypatch: Any, queued: list[Any]
) -> None:
    due = make_endpoint(owner, make_receiver())
    later = make_endpoint(owner, make_receiver(), event_types=["coupon.issued"])
    off = make_endpoint(owner, make_receiver(), event_types=["tier.changed"])
    record("tier.changed")
    record("coupon.issued")
    WebhookMessage.objects.filter(endpoint=later).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    endpoint_disable(endpoint_id=off.pk, reason="test")
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_endpoint, "delay", sent.append)
    assert tasks.send_due() == 1
    assert sent == [due.pk]


def test_the_admin_shows_the_secret_once_when_an_endpoint_is_made(owner: ApiKey) -> None:
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    answer = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"owner": owner.pk, "url": "https://hooks.example.com/in", "description": "shop"},
        follow=True,
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    shown = [str(m) for m in answer.context["messages"]]
    secret = shown[0].rsplit(": ", 1)[1]
    assert secret.startswith("whsec_")
    page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert endpoint.secret_encrypted not in page.content.decode()


def _staff() -> Client:
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    return client


CHANGELIST = "/admin/webhooks/webhookendpoint/"


def test_the_admins_replay_asks_since_when_offering_a_day_ago(
    owner: ApiKey, receiver: Receiver
) -> None:
    endpoint = make_endpoint(owner, receiver)
    page = _staff().post(CHANGELIST, {"action": "replay_since", "_selected_action": [endpoint.pk]})
    assert page.status_code == 200
    assert [t.name for t in page.templates][0] == "admin/webhooks/webhookendpoint/replay.html"
    offered = page.context["form"]["since"].value()
    assert abs(offered - (timezone.now() - timedelta(hours=24))) < timedelta(minutes=1)
    assert receiver.url in page.content.decode()
    assert not page.context["form"].is_bound


def test_the_admins_replay_sends_the_events_since_the_moment_chosen(
    owner: ApiKey,
    receiver: Receiver,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    endpoint = make_endpoint(owner, receiver)
    old = record("tier.changed", member_id=1)
    OutboxEvent.objects.filter(pk=old.pk).update(occurred_at=timezone.now() - timedelta(days=3))
    recent = record("tier.changed", member_id=2)
    WebhookMessage.objects.update(status="delivered")
    since = timezone.localtime() - timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        answer = _staff().post(
            CHANGELIST,
            {
                "action": "replay_since",
                "_selected_action": [endpoint.pk],
                "apply": "Replay",
                "since_0": since.strftime("%Y-%m-%d"),
                "since_1": since.strftime("%H:%M:%S"),
            },
            follow=True,
        )
    assert answer.status_code == 200
    assert [str(m) for m in answer.context["messages"]] == ["1 message to send."]
    assert list(
        WebhookMessage.objects.filter(status="pending").values_list("event_id", flat=True)
    ) == [recent.pk]
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]


def test_the_admins_replay_refuses_a_start_in_the_future_beside_the_field(
    owner: ApiKey, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint = make_endpoint(owner, receiver)
    record("tier.changed")
    WebhookMessage.objects.update(status="delivered")
    tomorrow = timezone.localtime() + timedelta(days=1)
    page = _staff().post(
        CHANGELIST,
        {
            "action": "replay_since",
            "_selected_action": [endpoint.pk],
            "apply": "Replay",
            "since_0": tomorrow.strftime("%Y-%m-%d"),
            "since_1": "08:00:00",
        },
    )
    assert page.status_code == 200
    assert page.context["form"].errors == {"since": ["The start is in the future."]}
    assert 'class="form-row errors"' in page.content.decode()
    assert list(WebhookMessage.objects.values_list("status", flat=True)) == ["delivered"]
