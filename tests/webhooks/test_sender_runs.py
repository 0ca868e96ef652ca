"""The sender's runs: batches sent outside a transaction and recorded together, a stop at a
receiver that cannot answer, a run that gives its worker back and queues the next, a message
committed while a run was finishing, a message resent while it was on its way, and the
connection made to the address that was checked (DNS rebinding)."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from members.models import ApiKey
from webhooks import delivery
from webhooks.delivery import endpoint_send
from webhooks.models import WebhookAttempt, WebhookMessage

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks", "queued")]


def test_a_run_that_reaches_its_limit_queues_the_next_sender(
    owner: ApiKey,
    receiver: Receiver,
    queued: list[Any],
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(delivery, "BATCH", 2)
    endpoint = make_endpoint(owner, receiver)
    events = [record("points.earned", member_id=i + 1, n=i) for i in range(5)]
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert endpoint_send(endpoint_id=endpoint.pk, limit=3) == 3
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]
    assert WebhookMessage.objects.filter(status="delivered").count() == 3
    assert WebhookAttempt.objects.count() == 3

    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert endpoint_send(endpoint_id=endpoint.pk) == 2
    assert queued == []  # nothing left: no next sender
    assert sorted(receiver.ids()) == sorted(str(e.event_id) for e in events)


def test_a_run_out_of_time_gives_its_worker_back_and_queues_the_next(
    owner: ApiKey,
    receiver: Receiver,
    queued: list[Any],
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(delivery, "BATCH", 1)
    monkeypatch.setattr(delivery, "RUN_SECONDS", 0.05)
    receiver.delay = 0.03
    endpoint = make_endpoint(owner, receiver)
    for i in range(6):
        record("points.earned", member_id=i + 1, n=i)
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        sent = endpoint_send(endpoint_id=endpoint.pk)
    assert 1 <= sent < 6
    assert queued == [("webhooks.send_endpoint", (endpoint.pk,))]
    assert WebhookMessage.objects.filter(status="delivered").count() == sent


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_does_not_answer_stops_the_batch_after_one_try(
    owner: ApiKey, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOKS_READ_TIMEOUT = 0.5
    receiver.delay = 2.0
    endpoint = make_endpoint(owner, receiver)
    for i in range(3):
        record("points.earned", member_id=i + 1, n=i)

    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert len(receiver.received) == 1
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "ReadTimeout" in attempt.error
    assert sorted(WebhookMessage.objects.values_list("attempts", flat=True)) == [0, 0, 1]


def test_an_answer_that_is_not_2xx_does_not_stop_the_batch(
    owner: ApiKey, receiver: Receiver
) -> None:
    receiver.statuses = [400]
    endpoint = make_endpoint(owner, receiver)
    for i in range(3):
        record("points.earned", member_id=i + 1, n=i)

    assert endpoint_send(endpoint_id=endpoint.pk) == 3
    assert sorted(WebhookMessage.objects.values_list("status", flat=True)) == [
        "delivered",
        "delivered",
        "pending",
    ]


def test_a_message_committed_while_a_run_was_finishing_is_sent_by_that_run(
    owner: ApiKey, receiver: Receiver, monkeypatch: Any
) -> None:
    endpoint = make_endpoint(owner, receiver)
    first = record("points.earned", member_id=1)
    late: list[Any] = []
    real = delivery._send_batch

    def batch(*args: Any) -> tuple[int, str]:
        sent, state = real(*args)
        if state == delivery.EMPTY and not late:
            # Committed after the run found nothing due, before it let the endpoint go: its
            # own sender found the endpoint held and left.
            late.append(record("points.earned", member_id=2))
        return sent, state

    monkeypatch.setattr(delivery, "_send_batch", batch)
    assert endpoint_send(endpoint_id=endpoint.pk) == 2
    assert receiver.ids() == [str(first.event_id), str(late[0].event_id)]


def test_a_message_resent_while_on_its_way_keeps_its_resend(
    owner: ApiKey, receiver: Receiver, monkeypatch: Any
) -> None:
    endpoint = make_endpoint(owner, receiver)
    record("points.earned", member_id=1)
    message = WebhookMessage.objects.get()
    real = delivery._post
    resent_at = timezone.now() + timedelta(minutes=1)

    def post(*args: Any) -> delivery.Answer:
        answer = real(*args)
        # Staff pressed "resend" (or a replay ran) while the answer was on its way.
        WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=resent_at)
        return answer

    monkeypatch.setattr(delivery, "_post", post)
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == (
        "pending",
        0,
        resent_at,
    )
    assert WebhookAttempt.objects.get().status_code == 200  # the try is recorded all the same


def test_the_connection_goes_to_the_address_that_was_checked(
    owner: ApiKey, receiver: Receiver, monkeypatch: Any
) -> None:
    """DNS rebinding: the name answers the receiver's address to the check, the metadata
    service's to anyone who asks again. The sender connects to the checked address (and
    still says the name in the Host header)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.test":
            asked.append(host)
            address = "127.0.0.1" if len(asked) == 1 else "169.254.169.254"
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    endpoint = make_endpoint(
        owner, receiver, url=f"http://hooks.rebind.test:{receiver.port}/hook?x=1"
    )
    event = record("tier.changed")

    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert asked == ["hooks.rebind.test"]  # resolved once, by the check
    assert receiver.ids() == [str(event.event_id)]
    assert receiver.received[0].headers["host"] == f"hooks.rebind.test:{receiver.port}"
    assert receiver.received[0].verified
    assert WebhookMessage.objects.get().status == "delivered"
