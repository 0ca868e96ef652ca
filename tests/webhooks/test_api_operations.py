"""What an integration does with its own endpoints' messages through the API: read one with
its tries, resend it, replay the events since a moment; another key's endpoint or message
is not found (404), and a refused replay writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import OutboxEvent
from members.models import ApiKey
from members.services import api_key_create
from webhooks.delivery import endpoint_send
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks")]

LIST = "/api/v1/webhook-endpoints/"


def client_of(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def shop_key() -> tuple[ApiKey, str]:
    return api_key_create(name="shop")


@pytest.fixture
def shop(shop_key: tuple[ApiKey, str]) -> APIClient:
    return client_of(shop_key[1])


@pytest.fixture
def rival() -> APIClient:
    return client_of(api_key_create(name="rival")[1])


@pytest.fixture
def endpoint(shop_key: tuple[ApiKey, str], receiver: Receiver) -> WebhookEndpoint:
    return make_endpoint(shop_key[0], receiver)


def _delivered() -> None:
    WebhookMessage.objects.update(status="delivered", delivered_at=timezone.now())


def test_a_replay_makes_the_events_since_the_moment_due_again(
    shop: APIClient,
    endpoint: WebhookEndpoint,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    old = record("tier.changed", member_id=1)
    WebhookMessage.objects.filter(event=old).delete()
    OutboxEvent.objects.filter(pk=old.pk).update(occurred_at=timezone.now() - timedelta(days=3))
    recent = [record("tier.changed", member_id=2), record("coupon.issued", member_id=3)]
    _delivered()
    queued.clear()

    since = (timezone.now() - timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        answer = shop.post(f"{LIST}{endpoint.pk}/replay/", {"since": since}, format="json")
    assert (answer.status_code, answer.json()) == (202, {"messages": 2})
    assert sorted(
        WebhookMessage.objects.filter(status="pending").values_list("event_id", flat=True)
    ) == sorted(e.pk for e in recent)
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"since": "yesterday"}, 400, "invalid"),
        ({"since": 5}, 400, "invalid"),
        # well-formed, refused by the rule: 422, as the API's other refusals
        ({"since": "2999-01-01T00:00:00Z"}, 422, "replay_since_in_the_future"),
    ],
)
def test_a_refused_replay_says_why_beside_the_field_and_changes_nothing(
    shop: APIClient,
    endpoint: WebhookEndpoint,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
    body: Any,
    status: int,
    code: str,
) -> None:
    record("tier.changed")
    _delivered()
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = shop.post(f"{LIST}{endpoint.pk}/replay/", body, format="json")
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert list(answer.json()["fields"]) == ["since"]
    assert list(WebhookMessage.objects.values_list("status", flat=True)) == ["delivered"]
    assert queued == []


def test_a_message_is_read_with_its_tries_newest_first(
    shop: APIClient, endpoint: WebhookEndpoint, receiver: Receiver, queued: list[Any]
) -> None:
    event = record("coupon.redeemed")
    receiver.statuses = [500]
    endpoint_send(endpoint_id=endpoint.pk)
    message = WebhookMessage.objects.get()
    message.next_attempt_at = timezone.now()
    message.save(update_fields=["next_attempt_at"])
    endpoint_send(endpoint_id=endpoint.pk)

    read = shop.get(f"{LIST}{endpoint.pk}/messages/{message.pk}/").json()
    assert (read["id"], read["webhook_id"], read["type"]) == (
        message.pk,
        str(event.event_id),
        "coupon.redeemed",
    )
    assert (read["status"], read["attempts"]) == ("delivered", 2)
    assert [(a["status_code"], a["response"], a["error"]) for a in read["attempts_made"]] == [
        (200, '{"ok": true}', ""),
        (500, "not now", ""),
    ]


def test_reading_a_message_takes_a_constant_number_of_queries(
    shop: APIClient, endpoint: WebhookEndpoint, queued: list[Any], django_assert_num_queries: Any
) -> None:
    record("tier.changed")
    message = WebhookMessage.objects.get()
    url = f"{LIST}{endpoint.pk}/messages/{message.pk}/"
    shop.get(url)  # the key's last use is stamped once a minute
    WebhookAttempt.objects.create(message=message, status_code=500)
    with django_assert_num_queries(3):
        assert len(shop.get(url).json()["attempts_made"]) == 1
    for _ in range(5):
        WebhookAttempt.objects.create(message=message, error="ConnectTimeout")
    with django_assert_num_queries(3):
        assert len(shop.get(url).json()["attempts_made"]) == 6


def test_a_resend_makes_a_delivered_message_due_at_once_with_its_tries_from_the_first(
    shop: APIClient,
    endpoint: WebhookEndpoint,
    receiver: Receiver,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    event = record("tier.changed")
    endpoint_send(endpoint_id=endpoint.pk)
    message = WebhookMessage.objects.get()
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        answer = shop.post(f"{LIST}{endpoint.pk}/messages/{message.pk}/resend/")
    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["attempts"]) == ("pending", 0)
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids() == [str(event.event_id)] * 2


def test_another_keys_endpoint_or_message_is_not_found(
    shop: APIClient,
    rival: APIClient,
    endpoint: WebhookEndpoint,
    make_receiver: Any,
    queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    record("tier.changed")
    mine = WebhookMessage.objects.get(endpoint=endpoint)
    _delivered()
    theirs_endpoint = make_endpoint(api_key_create(name="third")[0], make_receiver())
    theirs = WebhookMessage.objects.create(endpoint=theirs_endpoint, event=mine.event)
    queued.clear()
    since = {"since": timezone.now().isoformat()}

    with django_capture_on_commit_callbacks(execute=True):
        not_theirs = [
            rival.get(f"{LIST}{endpoint.pk}/messages/{mine.pk}/"),
            rival.post(f"{LIST}{endpoint.pk}/messages/{mine.pk}/resend/"),
            rival.post(f"{LIST}{endpoint.pk}/replay/", since, format="json"),
        ]
        not_this_endpoints = [
            shop.get(f"{LIST}{endpoint.pk}/messages/{theirs.pk}/"),
            shop.post(f"{LIST}{endpoint.pk}/messages/{theirs.pk}/resend/"),
            shop.get(f"{LIST}{endpoint.pk}/messages/{2**70}/"),
        ]
    for answer in not_theirs:
        assert answer.status_code == 404
        assert answer.json()["code"] == "webhook_endpoint_not_found"
    for answer in not_this_endpoints:
        assert answer.status_code == 404
        assert answer.json()["code"] == "webhook_message_not_found"
    assert mine.status == "pending"  # as read before `_delivered`
    assert set(WebhookMessage.objects.values_list("pk", "status")) == {
        (mine.pk, "delivered"),
        (theirs.pk, "pending"),
    }
    assert queued == []
