"""The transactional outbox (core.outbox): events commit or vanish with the change that emits
them, each subscriber handles each event once (its writes and "done" commit together), a
failing subscriber is retried with backoff and never loses the event, a member's events reach
a subscriber in order, and dispatchers run side by side."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxDelivery, OutboxEvent
from tests.concurrency import run_threads

from . import subscribers

pytestmark = pytest.mark.django_db

S = "tests.core.subscribers."


@pytest.fixture(autouse=True)
def wiring(settings: Any) -> None:
    settings.OUTBOX_SUBSCRIBERS = {
        "tier.changed": [S + "echo", S + "echo_too"],
        "coupon.issued": [S + "flaky"],
        "member.erased": [S + "dies"],
    }
    subscribers.FAILURES.clear()


def handled(by: str | None = None) -> list[str]:
    rows = OutboxEvent.objects.filter(type="test.handled").order_by("id")
    return [r.data["of"] for r in rows if by is None or r.data["by"] == by]


def emit(event_type: str = "tier.changed", member_id: int | None = 7) -> OutboxEvent:
    with transaction.atomic():
        return outbox.emit(event_type, {"to": "gold"}, member_id=member_id)


def due_now() -> None:
    OutboxDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())


def test_an_event_commits_with_the_change_or_not_at_all_and_gets_a_delivery_per_subscriber() -> (
    None
):
    event = emit()
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.emit("tier.changed", {"to": "silver"}, member_id=7)
        raise RuntimeError("the change fails")
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [event.pk]
    # the writing transaction wrote the event alone; the dispatcher hands it out
    assert event.fanned_out_at is None and not OutboxDelivery.objects.exists()
    assert outbox.fan_out() == 1
    assert sorted(event.deliveries.values_list("subscriber", flat=True)) == [
        S + "echo",
        S + "echo_too",
    ]
    assert outbox.fan_out() == 0  # handed out once
    assert OutboxDelivery.objects.count() == 2


def test_an_event_nobody_subscribes_to_is_born_handed_out() -> None:
    with transaction.atomic():
        event = outbox.emit("coupon.redeemed", {"code": "X"}, member_id=7)
    assert event.fanned_out_at is not None
    assert outbox.fan_out() == 0 and outbox.dispatch() == 0
    assert not OutboxDelivery.objects.exists()


def test_a_subscriber_gets_the_due_events_in_batches() -> None:
    events = [emit(member_id=n) for n in range(outbox.DELIVERY_BATCH + 5)]
    subscribers.BATCHES.clear()
    assert outbox.dispatch() == 2 * len(events)
    assert subscribers.BATCHES == [outbox.DELIVERY_BATCH, 5]
    assert sorted(handled("echo")) == sorted(str(e.event_id) for e in events)


def test_one_failing_event_in_a_batch_is_retried_alone_and_the_rest_are_done() -> None:
    first, bad, last = emit("coupon.issued", 1), emit("coupon.issued", 2), emit("coupon.issued", 3)
    subscribers.FAILURES[str(bad.event_id)] = 2  # the batch fails, then the event alone
    assert outbox.dispatch() == 3
    assert OutboxDelivery.objects.get(event=bad).attempts == 1
    status = dict(OutboxDelivery.objects.values_list("event_id", "status"))
    assert status == {first.pk: "done", bad.pk: "pending", last.pk: "done"}
    assert sorted(handled("flaky")) == sorted([str(first.event_id), str(last.event_id)])
    due_now()
    assert outbox.dispatch() == 1
    assert handled("flaky")[-1] == str(bad.event_id)


def test_a_subscriber_may_return_the_events_it_could_not_handle(settings: Any) -> None:
    settings.OUTBOX_SUBSCRIBERS = {"coupon.issued": [S + "picky"]}
    good, bad = emit("coupon.issued", 1), emit("coupon.issued", 2)
    subscribers.FAILURES[str(bad.event_id)] = 1
    assert outbox.dispatch() == 2
    refused = OutboxDelivery.objects.get(event=bad)
    assert (refused.status, refused.attempts, refused.last_error) == (
        "pending",
        1,
        "ValueError: no address",
    )
    assert OutboxDelivery.objects.get(event=good).status == "done"
    due_now()
    assert outbox.dispatch() == 1
    assert handled("picky") == [str(good.event_id), str(bad.event_id)]


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused() -> None:
    with pytest.raises(AssertionError):
        outbox.emit("tier.changed", {}, member_id=7)
    assert not OutboxEvent.objects.exists()


def test_each_subscriber_handles_each_event_once() -> None:
    events = [emit(), emit(member_id=8), emit(member_id=None)]
    assert outbox.dispatch() == 6
    assert outbox.dispatch() == 0  # a second run finds nothing
    ids = [str(e.event_id) for e in events]
    assert sorted(handled("echo")) == sorted(ids) and sorted(handled("echo_too")) == sorted(ids)
    assert set(OutboxDelivery.objects.values_list("status", flat=True)) == {"done"}


def test_a_members_events_are_numbered_in_order() -> None:
    first, second, other = emit(), emit(), emit(member_id=8)
    assert (first.member_seq, second.member_seq, other.member_seq) == (1, 2, 1)
    assert emit(member_id=None).member_seq is None


def test_a_failing_subscriber_is_retried_with_backoff_and_its_writes_undone() -> None:
    event = emit("coupon.issued")
    subscribers.FAILURES[str(event.event_id)] = 3
    for attempt in range(1, 4):
        assert outbox.dispatch() == 1
        delivery = OutboxDelivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("pending", attempt)
        assert "mail server is down" in delivery.last_error
        assert delivery.next_attempt_at > timezone.now()  # backing off
        assert outbox.dispatch() == 0  # not due yet
        assert handled() == []  # the failed attempt's write was undone
        due_now()
    assert outbox.dispatch() == 1
    delivery = OutboxDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("done", 4, "")
    assert handled("flaky") == [str(event.event_id)]


def test_the_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    for attempts in range(1, 20):
        wait = outbox.backoff(attempts)
        nominal = min(outbox.BACKOFF_BASE * 2 ** (attempts - 1), outbox.BACKOFF_CAP)
        assert nominal * 0.8 <= wait <= nominal * 1.2


def test_a_subscriber_that_never_succeeds_is_kept_as_failed_and_can_be_retried() -> None:
    event = emit("coupon.issued")
    subscribers.FAILURES[str(event.event_id)] = outbox.MAX_ATTEMPTS
    for _ in range(outbox.MAX_ATTEMPTS):
        due_now()
        outbox.dispatch()
    delivery = OutboxDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert outbox.dispatch() == 0
    assert outbox.retry(OutboxDelivery.objects.all()) == 1
    assert outbox.dispatch() == 1
    assert OutboxDelivery.objects.get().status == "done"
    assert handled("flaky") == [str(event.event_id)]


def test_a_members_later_event_waits_for_the_earlier_one() -> None:
    first = emit("coupon.issued")
    second = emit("coupon.issued")
    third_of_another = emit("coupon.issued", member_id=8)
    subscribers.FAILURES[str(first.event_id)] = 2  # its batch, then alone
    assert outbox.dispatch() == 2  # the first fails; the second waits; the other member's goes
    assert handled() == [str(third_of_another.event_id)]
    due_now()
    assert outbox.dispatch() == 2
    assert handled() == [str(e.event_id) for e in (third_of_another, first, second)]


def test_a_dispatcher_that_dies_mid_delivery_leaves_it_pending_and_undone() -> None:
    event = emit("member.erased")
    with pytest.raises(subscribers.Died):
        outbox.dispatch()
    delivery = OutboxDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert handled() == []
    assert delivery.event_id == event.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_two_dispatchers_at_once_hand_each_event_to_each_subscriber_once() -> None:
    events = [emit(member_id=n % 5) for n in range(60)]
    assert outbox.fan_out() == 60  # both dispatchers find deliveries from the start

    def dispatcher(_: int) -> int:
        return outbox.dispatch()

    results = run_threads(2, dispatcher)
    assert sum(results) == 120
    ids = sorted(str(e.event_id) for e in events)
    assert sorted(handled("echo")) == ids and sorted(handled("echo_too")) == ids
    _assert_in_member_order(events)


def _assert_in_member_order(events: list[OutboxEvent]) -> None:
    """Each member's events were handled in their order, whichever dispatcher took them (a
    handling is recorded in the delivery's transaction, after the earlier one committed)."""
    order = {str(e.event_id): (e.member_id, e.member_seq) for e in events}
    for by in ("echo", "echo_too"):
        seen: dict[int, int] = {}
        for of in handled(by):
            member, seq = order[of]
            assert seq > seen.get(member, 0)
            seen[member] = seq


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_events_written_while_two_dispatchers_run_reach_each_subscriber_in_member_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two writers record events of the same five members while two dispatchers hand them
    out and deliver them: every event once to each subscriber, each member's in order."""
    monkeypatch.setattr(outbox, "wake", lambda: None)  # the dispatchers below poll
    monkeypatch.setattr(outbox, "DELIVERY_BATCH", 3)
    written: list[OutboxEvent] = []
    writers_done = threading.Event()
    finished: list[int] = []

    def work(i: int) -> None:
        if i < 2:  # a writer: 40 small transactions
            for n in range(40):
                written.append(emit(member_id=(n + i) % 5))
            finished.append(i)
            if len(finished) == 2:
                writers_done.set()
            return
        while True:  # a dispatcher, until the writers are done and nothing is left
            done_writing = writers_done.is_set()
            if not outbox.dispatch() and done_writing and not _left():
                return

    run_threads(4, work)
    assert len(written) == 80
    ids = sorted(str(e.event_id) for e in written)
    assert sorted(handled("echo")) == ids and sorted(handled("echo_too")) == ids
    _assert_in_member_order([OutboxEvent.objects.get(pk=e.pk) for e in written])


def _left() -> bool:
    return (
        OutboxDelivery.objects.exclude(status="done").exists()
        or OutboxEvent.objects.filter(fanned_out_at=None).exists()
    )


@pytest.mark.outbox_wakes_celery
def test_the_commit_wakes_the_dispatcher(django_capture_on_commit_callbacks: Any) -> None:
    from celery import current_app

    current_app.conf.task_always_eager = True  # the task runs where it is sent
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = emit()
    finally:
        current_app.conf.task_always_eager = False
    assert sorted(handled()) == [str(event.event_id)] * 2
    assert set(OutboxDelivery.objects.values_list("status", flat=True)) == {"done"}
