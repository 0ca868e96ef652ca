"""Sending webhooks to a real receiver on 127.0.0.1 that verifies every signature with the
`standardwebhooks` package: each event type, retries, a hanging receiver, a sender killed
between the answer and its record, rotation, 410, a used-up schedule, per-member order, and
two senders at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from core import outbox
from members.models import ApiKey
from tests.concurrency import run_threads
from tests.factories import MemberFactory
from webhooks import delivery
from webhooks.delivery import MAX_ATTEMPTS, endpoint_send, retry_delay
from webhooks.models import EVENT_TYPES, WebhookAttempt, WebhookEndpoint, WebhookMessage
from webhooks.services import endpoint_rotate_secret

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks", "queued")]


def due_now() -> None:
    WebhookMessage.objects.filter(status="pending").update(next_attempt_at=timezone.now())


def test_every_event_type_is_sent_signed_and_standardwebhooks_verifies_it(
    owner: ApiKey, receiver: Receiver
) -> None:
    endpoint = make_endpoint(owner, receiver)
    events = [record(t, member_id=i + 1, n=i) for i, t in enumerate(EVENT_TYPES)]
    assert endpoint_send(endpoint_id=endpoint.pk) == len(EVENT_TYPES)

    assert [r.verified for r in receiver.received] == [True] * len(EVENT_TYPES)
    by_id = {r.id: r for r in receiver.received}
    assert set(by_id) == {str(e.event_id) for e in events}
    for event in events:
        got = by_id[str(event.event_id)]
        assert got.json == {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": {"n": event.data["n"], "member": f"{event.member_id:010d}"},
        }
        assert got.headers["content-type"] == "application/json"
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
        assert len(got.headers["webhook-signature"].split(" ")) == 1
    assert set(WebhookMessage.objects.values_list("status", "attempts")) == {("delivered", 1)}
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [200] * len(
        EVENT_TYPES
    )
    assert endpoint_send(endpoint_id=endpoint.pk) == 0  # nothing left to send


def test_the_data_wins_a_name_it_shares_with_the_subject_and_the_other_ids_are_added(
    owner: ApiKey, receiver: Receiver
) -> None:
    endpoint = make_endpoint(owner, receiver, event_types=["coupon.issued"])
    with transaction.atomic():
        outbox.emit(
            "coupon.issued",
            {"code": "BDAY-1", "template": {"id": 3, "name": "Birthday treat"}},
            member_id=7,
            subject={"member": "0000000007", "coupon": 11, "template": 3},
        )
    outbox.dispatch()
    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    (got,) = receiver.received
    assert got.verified
    assert got.json["data"] == {
        "code": "BDAY-1",
        "template": {"id": 3, "name": "Birthday treat"},
        "member": "0000000007",
        "coupon": 11,
    }


def test_a_receiver_failing_three_times_then_answering_gets_the_event_once_delivered(
    owner: ApiKey, receiver: Receiver
) -> None:
    receiver.statuses = [500, 502, 503]
    endpoint = make_endpoint(owner, receiver)
    event = record("tier.changed")
    message = WebhookMessage.objects.get()

    assert endpoint_send(endpoint_id=endpoint.pk) == 1  # failed: waits for its backoff
    message.refresh_from_db()
    wait = message.next_attempt_at - timezone.now()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=6)
    assert endpoint_send(endpoint_id=endpoint.pk) == 0  # not due yet
    for _ in range(3):
        due_now()
        assert endpoint_send(endpoint_id=endpoint.pk) == 1

    assert receiver.ids() == [str(event.event_id)] * 4  # the same webhook-id every time
    assert all(r.verified for r in receiver.received)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("delivered", 4)
    assert message.delivered_at is not None
    attempts = WebhookAttempt.objects.filter(message=message).order_by("id")
    assert [a.status_code for a in attempts] == [500, 502, 503, 200]
    assert [a.response for a in attempts] == ["not now"] * 3 + ['{"ok": true}']
    assert all(a.latency_ms is not None and a.error == "" for a in attempts)
    due_now()
    assert endpoint_send(endpoint_id=endpoint.pk) == 0
    assert len(receiver.received) == 4


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (1, timedelta(seconds=4), timedelta(seconds=6)),
        (2, timedelta(minutes=4), timedelta(minutes=6)),
        (3, timedelta(minutes=24), timedelta(minutes=36)),
        (4, timedelta(hours=1.6), timedelta(hours=2.4)),
        (5, timedelta(hours=4), timedelta(hours=6)),
        (6, timedelta(hours=8), timedelta(hours=12)),
        (7, timedelta(hours=8), timedelta(hours=12)),
    ],
)
def test_the_retry_schedule_with_jitter(attempts: int, low: timedelta, high: timedelta) -> None:
    waits = [retry_delay(attempts) for _ in range(50)]
    assert all(w is not None and low <= w <= high for w in waits)
    assert len(set(waits)) > 1  # jittered


def test_the_schedule_ends_after_eight_tries() -> None:
    assert MAX_ATTEMPTS == 8
    assert retry_delay(8) is None


def test_the_last_failure_fails_the_message_disables_the_endpoint_and_emails_owner_and_staff(
    owner: ApiKey, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    MemberFactory(email="staff@example.com", is_staff=True)
    receiver.statuses = [500]
    endpoint = make_endpoint(owner, receiver)
    record("coupon.issued")
    WebhookMessage.objects.update(attempts=MAX_ATTEMPTS - 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert endpoint_send(endpoint_id=endpoint.pk) == 1

    message = WebhookMessage.objects.get()
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_at is not None
    assert endpoint.disabled_reason == "Every try failed for 8 attempts."
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["owner@example.com", "staff@example.com"]
    assert endpoint.url in mail.outbox[0].subject


def test_410_gone_disables_the_endpoint_and_its_messages_wait(
    owner: ApiKey, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    receiver.statuses = [410]
    endpoint = make_endpoint(owner, receiver)
    record("tier.changed")
    record("tier.changed", member_id=8)
    with django_capture_on_commit_callbacks(execute=True):
        assert endpoint_send(endpoint_id=endpoint.pk) == 1  # and no more: it is disabled

    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason == "The receiver answered 410 Gone."
    assert len(receiver.received) == 1
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [410]
    assert set(WebhookMessage.objects.values_list("status", flat=True)) == {"pending"}
    assert len(mail.outbox) == 1
    due_now()
    assert endpoint_send(endpoint_id=endpoint.pk) == 0


class Died(BaseException):
    """A worker killed here: nothing after it runs, its transaction never commits."""


def test_a_sender_killed_between_the_answer_and_its_record_sends_again_with_the_same_id(
    owner: ApiKey, receiver: Receiver, monkeypatch: Any
) -> None:
    endpoint = make_endpoint(owner, receiver)
    event = record("points.earned")

    def killed(*args: Any) -> None:
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_record", killed)
        with pytest.raises(Died):
            endpoint_send(endpoint_id=endpoint.pk)
    assert receiver.ids() == [str(event.event_id)]  # the receiver had it
    message = WebhookMessage.objects.get()
    assert (message.status, message.attempts) == ("pending", 0)  # nothing recorded
    assert not WebhookAttempt.objects.exists()

    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert receiver.ids() == [str(event.event_id)] * 2  # again, the same webhook-id
    assert all(r.verified for r in receiver.received)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("delivered", 1)
    assert WebhookAttempt.objects.get().status_code == 200


def test_after_a_rotation_both_secrets_sign_during_the_overlap_then_only_the_new_one(
    owner: ApiKey, receiver: Receiver
) -> None:
    endpoint = make_endpoint(owner, receiver)
    old = receiver.secret
    new = endpoint_rotate_secret(endpoint=endpoint)
    assert new != old and new.startswith("whsec_")
    receiver.secret = new
    record("tier.changed")
    endpoint_send(endpoint_id=endpoint.pk)

    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(during.body, during.headers)["type"] == "tier.changed"
    assert Webhook(new).verify(during.body, during.headers)["type"] == "tier.changed"

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    record("tier.changed", member_id=8)
    endpoint_send(endpoint_id=endpoint.pk)
    after = receiver.received[-1]
    assert after.id != during.id
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new).verify(after.body, after.headers)["type"] == "tier.changed"
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    assert all(r.verified for r in receiver.received)


def test_a_members_messages_arrive_in_their_order_and_wait_behind_a_failed_one(
    owner: ApiKey, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    endpoint = make_endpoint(owner, receiver)
    first, second, third = (record("points.earned", member_id=1, n=n) for n in range(3))
    other = record("points.earned", member_id=2)

    assert endpoint_send(endpoint_id=endpoint.pk) == 2  # the first fails; the other member's
    assert receiver.ids() == [str(first.event_id), str(other.event_id)]
    due_now()
    assert endpoint_send(endpoint_id=endpoint.pk) == 3
    assert receiver.ids()[2:] == [str(e.event_id) for e in (first, second, third)]
    assert set(WebhookMessage.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_times_out_and_another_endpoint_is_served_meanwhile(
    owner: ApiKey, make_receiver: Any, settings: Any
) -> None:
    settings.WEBHOOKS_READ_TIMEOUT = 1.0
    hanging, healthy = make_receiver(), make_receiver()
    hanging.delay = 3.0
    stuck = make_endpoint(owner, hanging)
    fine = make_endpoint(owner, healthy)
    record("tier.changed")

    sender = threading.Thread(target=endpoint_send, kwargs={"endpoint_id": stuck.pk})
    sender.start()
    assert hanging.arrived.wait(5)
    assert endpoint_send(endpoint_id=fine.pk) == 1
    assert sender.is_alive()  # still waiting on the hanging receiver
    assert WebhookMessage.objects.get(endpoint=fine).status == "delivered"
    sender.join(10)

    message = WebhookMessage.objects.get(endpoint=stuck)
    assert (message.status, message.attempts) == ("pending", 1)
    attempt = WebhookAttempt.objects.get(message=message)
    assert attempt.status_code is None
    assert "ReadTimeout" in attempt.error
    assert 900 <= attempt.latency_ms < 3000


@pytest.mark.django_db(transaction=True)
def test_two_senders_for_one_endpoint_at_once_send_each_message_once(
    owner: ApiKey, receiver: Receiver
) -> None:
    receiver.delay = 0.02
    endpoint = make_endpoint(owner, receiver)
    events = [record("points.earned", member_id=1 + i % 5, n=i) for i in range(30)]

    tried = run_threads(2, lambda _i: endpoint_send(endpoint_id=endpoint.pk))

    assert sorted(tried) == [0, 30]  # the second found the endpoint held and left
    assert sorted(receiver.ids()) == sorted(str(e.event_id) for e in events)
    assert WebhookAttempt.objects.count() == 30
    assert set(WebhookMessage.objects.values_list("status", "attempts")) == {("delivered", 1)}
