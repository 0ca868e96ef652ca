"""Real threads against PostgreSQL: concurrent batches that race for the same event ids."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from loyalty.earning.models import Event, Order
from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.selectors import ledger_mismatches
from tests.factories import MemberFactory
from tests.loyalty.earning.test_concurrency import client_for, run_threads, setup_program

pytestmark = [pytest.mark.django_db(transaction=True)]
__all__ = ["setup_program"]


def order(member_number: str, key: str, number: str) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": member_number,
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "order": {"number": number, "amount": "12.50", "currency": "USD"},
    }


def test_the_same_batch_4_times_at_once_applies_each_event_once(setup_program: str) -> None:
    members = [MemberFactory() for _ in range(10)]
    events = [order(members[n % 10].number, f"e{n}", f"SO-{n}") for n in range(30)]

    def send(i: int) -> list[int]:
        body = {"events": events if i % 2 else list(reversed(events))}
        response = client_for(setup_program).post("/api/v1/events/batch/", body, format="json")
        assert response.status_code == 200
        return [r["status"] for r in response.json()["results"]]

    statuses = run_threads(4, send)
    per_event = [
        Counter(s[n] if i % 2 else s[29 - n] for i, s in enumerate(statuses)) for n in range(30)
    ]
    assert per_event == [{201: 1, 200: 3}] * 30
    assert Event.objects.count() == 30
    assert sorted(Account.objects.values_list("balance", flat=True)) == [5] * 10
    assert PointEntry.objects.count() == 30
    assert ledger_mismatches() == []


def test_batches_racing_for_the_same_ids_with_other_bodies(setup_program: str) -> None:
    members = [MemberFactory() for _ in range(4)]

    def send(i: int) -> list[tuple[str, int]]:
        mine = members[i].number
        events = [order(mine, f"shared{n}", f"T{i}-S{n}") for n in range(10)]
        events += [order(mine, f"own{i}-{n}", f"T{i}-O{n}") for n in range(10)]
        response = client_for(setup_program).post(
            "/api/v1/events/batch/", {"events": events}, format="json"
        )
        assert response.status_code == 200
        return [(r["id"], r["status"]) for r in response.json()["results"]]

    results = [pair for per_thread in run_threads(4, send) for pair in per_thread]
    shared = Counter((key, status) for key, status in results if key.startswith("shared"))
    for n in range(10):
        assert shared[(f"shared{n}", 201)] == 1
        assert shared[(f"shared{n}", 409)] == 3
    assert all(status == 201 for key, status in results if key.startswith("own"))
    assert Event.objects.count() == 10 + 40
    assert Order.objects.count() == 10 + 40
    assert PointEntry.objects.count() == 50
    assert ledger_mismatches() == []


def test_single_events_and_a_batch_with_the_same_ids_at_once(setup_program: str) -> None:
    members = [MemberFactory() for _ in range(5)]
    events = [order(members[n % 5].number, f"e{n}", f"SO-{n}") for n in range(20)]

    def send(i: int) -> list[int]:
        client = client_for(setup_program)
        if i == 0:
            response = client.post("/api/v1/events/batch/", {"events": events}, format="json")
            assert response.status_code == 200
            return [r["status"] for r in response.json()["results"]]
        statuses = []
        for body in events[i - 1 :: 3]:
            statuses.append(client.post("/api/v1/events/", body, format="json").status_code)
        return statuses

    results = run_threads(4, send)
    assert set(results[0]) <= {200, 201}
    assert {s for per_thread in results[1:] for s in per_thread} <= {200, 201}
    created = results[0].count(201) + sum(per.count(201) for per in results[1:])
    assert created == 20
    assert Event.objects.count() == 20
    assert sorted(Account.objects.values_list("balance", flat=True)) == [5] * 5
    assert PointEntry.objects.count() == 20
    assert ledger_mismatches() == []
