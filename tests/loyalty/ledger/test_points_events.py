"""Points earned and reversed are domain events (core.outbox), recorded in the transaction of
the posting, by the ledger's postings and the earning engine's SQL write alike, with one
payload (loyalty_points_event_rows); spends and zero-point entries record none."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from core import outbox
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import points_award, points_redeem, points_reverse
from members.models import Member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


WEBHOOKS = "webhooks.subscribers.enqueue"


def _points_events() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type__startswith="points.").order_by("id"))


def test_an_earning_is_recorded_with_its_posting_or_not_at_all(member: Member) -> None:
    at = timezone.now() - timedelta(hours=1)
    with transaction.atomic():
        entry = points_award(member_id=member.pk, points=40, reason="Welcome", occurred_at=at)
    with pytest.raises(RuntimeError), transaction.atomic():
        points_award(member_id=member.pk, points=5, reason="Undone")
        raise RuntimeError("the posting fails")
    (event,) = _points_events()
    assert (event.type, event.version, event.member_id) == ("points.earned", 1, member.pk)
    assert event.subject == {"member": member.number, "entry": entry.pk}
    assert datetime.fromisoformat(event.data.pop("occurred_at")) == at
    assert event.data == {
        "points": 40,
        "kind": "earn",
        "reason": "Welcome",
        "order": None,
        "reverses": None,
        "rule": None,
        "campaign": None,
    }
    # handed to its subscriber, the instant-upgrade check (and to webhooks, as every event)
    outbox.fan_out()
    assert list(
        event.deliveries.exclude(subscriber=WEBHOOKS).values_list("subscriber", flat=True)
    ) == ["loyalty.tiers.subscribers.instant_upgrade"]


def test_a_reversal_is_recorded_and_a_spend_or_zero_points_are_not(member: Member) -> None:
    earning = points_award(member_id=member.pk, points=100, reason="Order")
    points_award(member_id=member.pk, points=0, reason="Over the cap")
    points_redeem(member_id=member.pk, points=10, reason="Tote bag")
    reversal = points_reverse(entry_id=earning.pk, points=30, reason="Returned")
    events = _points_events()
    assert [(e.type, e.subject["entry"]) for e in events] == [
        ("points.earned", earning.pk),
        ("points.reversed", reversal.pk),
    ]
    reversed_ = events[1]
    assert (reversed_.data["points"], reversed_.data["kind"], reversed_.data["reverses"]) == (
        -30,
        "reverse",
        earning.pk,
    )
    assert reversed_.subject["reverses"] == earning.pk
    assert [e.member_seq for e in events] == sorted(e.member_seq for e in events)
    # webhooks are the reversals' only subscriber: handed out by the dispatcher
    assert reversed_.fanned_out_at is None
    outbox.fan_out()
    assert list(reversed_.deliveries.values_list("subscriber", flat=True)) == [WEBHOOKS]


def test_the_engine_records_an_event_per_earning_of_an_order_once(
    api_client: APIClient, member: Member
) -> None:
    body = {
        "id": "e1",
        "type": "order.received",
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "order": {"number": "SO-7", "amount": "12.50", "currency": "USD", "categories": ["a"]},
    }
    assert api_client.post("/api/v1/events/", body, format="json").status_code == 201
    assert api_client.post("/api/v1/events/", body, format="json").status_code == 200  # replay
    earned = PointEntry.objects.filter(points__gt=0).order_by("id")
    events = _points_events()
    assert len(events) == earned.count() >= 1
    for event, entry in zip(events, earned, strict=True):
        assert event.type == "points.earned"
        assert event.subject == {"member": member.number, "entry": entry.pk, "order": "SO-7"}
        assert (event.data["points"], event.data["reason"], event.data["order"]) == (
            entry.points,
            entry.reason,
            "SO-7",
        )
        assert event.data["rule"] == entry.rule_id
    first = events[0].member_seq
    assert [e.member_seq for e in events] == list(range(first, first + len(events)))


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_a_commit_wakes_the_dispatcher_once_however_many_events(
    api_key: tuple[Any, str], member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own transaction (no Django atomic block) wakes after its commit; the wake
    is coalesced while a dispatch is queued."""
    queued: list[int] = []
    monkeypatch.setattr(outbox.outbox_dispatch_task, "delay", lambda *a: queued.append(1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    for n in range(3):
        body = {
            "id": f"e{n}",
            "type": "order.received",
            "member": member.number,
            "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
            "order": {"number": f"SO-{n}", "amount": "12.50", "currency": "USD"},
        }
        assert client.post("/api/v1/events/", body, format="json").status_code == 201
    assert queued == [1]  # three commits, one dispatch queued (not yet started)
    waiting = OutboxEvent.objects.filter(type="points.earned", fanned_out_at=None)
    assert waiting.count() == PointEntry.objects.filter(points__gt=0).count() >= 1
    outbox.outbox_dispatch_task.run()  # the queued dispatch starts: the next commit wakes again
    assert not waiting.exists()
    assert not OutboxDelivery.objects.filter(status="pending").exists()
