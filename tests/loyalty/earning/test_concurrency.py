"""Real threads against PostgreSQL: idempotency, caps and spending hold under concurrency."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.selectors import ledger_mismatches
from loyalty.ledger.services import points_award
from loyalty.program.presets import loaders
from members.services import api_key_create
from tests import wsgi
from tests.concurrency import run_threads
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def setup_program() -> str:
    for load in loaders():
        load("aliexpress")
    return api_key_create(name="checkout")[1]


def order(member_number: str, key: str, number: str) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": member_number,
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "order": {"number": number, "amount": "12.50", "currency": "USD"},
    }


def send_event(via: str, key: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POST one event through the WSGI application a server runs, or through the test
    client."""
    if via == "wsgi":
        from config.wsgi import application

        answer = wsgi.post(application, "/api/v1/events/", body, key)
        return answer.status_code, answer.json()
    response = client_for(key).post("/api/v1/events/", body, format="json")
    return response.status_code, response.json()


VIA = pytest.mark.parametrize("via", ["wsgi", "drf"])


@VIA
def test_same_event_50_times_at_once_writes_one_entry(
    setup_program: str, via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    framed: list[int] = []
    initial = APIView.initial
    monkeypatch.setattr(
        APIView, "initial", lambda self, *a, **kw: framed.append(1) or initial(self, *a, **kw)
    )
    member = MemberFactory()
    body = order(member.number, "same-id", "SO-1")

    def send(_i: int) -> tuple[int, Any]:
        return send_event(via, setup_program, body)

    results = run_threads(50, send)
    assert len(framed) == 50  # every request goes through Django's and DRF's stack
    assert Counter(status for status, _body in results) == {201: 1, 200: 49}
    assert len({json.dumps(answer, sort_keys=True) for _status, answer in results}) == 1
    assert PointEntry.objects.count() == 1
    assert Account.objects.get(member=member).balance == 5


@VIA
def test_ten_orders_at_once_earn_exactly_the_daily_cap(setup_program: str, via: str) -> None:
    member = MemberFactory()

    def send(i: int) -> int:
        return send_event(via, setup_program, order(member.number, f"e{i}", f"SO-{i}"))[0]

    assert run_threads(10, send) == [201] * 10
    points = sorted(PointEntry.objects.values_list("points", flat=True))
    assert points == [0] * 9 + [5]
    assert Account.objects.get(member=member).balance == 5


def test_concurrent_redemptions_grant_exactly_what_balances_allow(setup_program: str) -> None:
    members = [MemberFactory() for _ in range(50)]
    for m in members:
        points_award(member_id=m.pk, points=100, reason="start")
    rng = random.Random(42)
    plan = [[rng.randrange(50) for _ in range(20)] for _ in range(16)]

    def client_work(i: int) -> list[tuple[int, int]]:
        client = client_for(setup_program)
        answers = []
        for n, index in enumerate(plan[i]):
            url = f"/api/v1/members/{members[index].number}/redemptions/"
            response = client.post(
                url, {"id": f"c{i}-{n}", "points": 30, "reason": "coupon"}, format="json"
            )
            assert response.status_code in (201, 422), response.json()
            answers.append((index, response.status_code))
        return answers

    answers = [a for per_client in run_threads(16, client_work) for a in per_client]
    asked = Counter(index for index, _status in answers)
    granted = Counter(index for index, status in answers if status == 201)
    for index, m in enumerate(members):
        assert granted[index] == min(asked[index], 3)
        assert Account.objects.get(member=m).balance == 100 - 30 * granted[index]
    drop = 50 * 100 - sum(Account.objects.values_list("balance", flat=True))
    assert drop == 30 * sum(granted.values())
    assert PointEntry.objects.filter(kind="redeem").count() == sum(granted.values())
    assert ledger_mismatches() == []


def test_trigger_refuses_update_and_delete() -> None:
    member = MemberFactory()
    entry = points_award(member_id=member.pk, points=5, reason="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointEntry.objects.filter(pk=entry.pk).update(points=500)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM loyalty_pointentry WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.points == 5
