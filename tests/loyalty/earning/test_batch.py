"""Batches (`POST /api/v1/events/batch/`): the same answers and ledger as one event at a time,
in a constant number of statements (the earning engine, loyalty/earning/)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.clock import local_date
from loyalty.earning.models import Event, Order
from loyalty.ledger.models import Account, LotAllocation, PointEntry, PointLot
from loyalty.ledger.selectors import ledger_mismatches
from loyalty.ledger.services import account_open
from loyalty.program.models import Campaign, Tier
from members.models import Member
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]

BATCH = "/api/v1/events/batch/"


def now_iso(**delta: float) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def received(member: Member, key: str, number: str, amount: str = "12.50", **extra: Any) -> dict:
    return {
        "id": key,
        "type": "order.received",
        "member": member.number,
        "occurred_at": extra.pop("occurred_at", now_iso(minutes=5)),
        "order": {"number": number, "amount": amount, "currency": "USD", **extra},
    }


def batch(client: APIClient, events: list[Any]) -> list[dict[str, Any]]:
    response = client.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 200
    return response.json()["results"]


def written() -> tuple[int, int, int, int, int]:
    return (
        Event.objects.count(),
        Order.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        LotAllocation.objects.count(),
    )


def sequence(member: Member, prefix: str, when: datetime) -> list[dict[str, Any]]:
    """Orders of one day that meet the shopping cap, the category bonus and its cap, an order
    below the minimum, and an order on another day."""
    at = when.isoformat()
    return [
        received(member, f"{prefix}1", f"{prefix}-1", categories=["shoes", "bags"], occurred_at=at),
        received(member, f"{prefix}2", f"{prefix}-2", "1.99", categories=["toys"], occurred_at=at),
        received(
            member, f"{prefix}3", f"{prefix}-3", categories=["Bags", "books", "tea"], occurred_at=at
        ),
        received(member, f"{prefix}4", f"{prefix}-4", categories=["food", "pens"], occurred_at=at),
        received(member, f"{prefix}5", f"{prefix}-5", occurred_at=now_iso(days=3)),
    ]


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    def neutral(text: str) -> str:
        return text.replace("A-", "X-").replace("B-", "X-")

    return {
        "status": result["status"],
        "points": result["points"],
        "balance": result["balance"],
        "entries": [dict(e, reason=neutral(e["reason"])) for e in result["entries"]],
    }


def test_a_batch_answers_as_one_event_at_a_time(api_client: APIClient) -> None:
    alone, together = MemberFactory(), MemberFactory()
    when = timezone.now() - timedelta(minutes=5)
    one_by_one = []
    for body in sequence(alone, "A", when):
        response = api_client.post("/api/v1/events/", body, format="json")
        one_by_one.append({"status": response.status_code, **response.json()})
    results = batch(api_client, sequence(together, "B", when))
    assert [comparable(r) for r in results] == [comparable(r) for r in one_by_one]
    assert [r["points"] for r in results] == [6, 0, 2, 0, 5]
    assert results[2]["entries"] == [
        {"points": 0, "kind": "earn", "reason": "daily shopping cap of 5 reached: 0 points"},
        {
            "points": 2,
            "kind": "earn",
            "reason": f"2 points for 2 more categories on {local_date(when)} (order B-3)",
        },
    ]
    assert Account.objects.get(member=together).balance == 13
    assert ledger_mismatches() == []


def test_mixed_valid_and_invalid_events_each_fail_alone(api_client: APIClient) -> None:
    first, second = MemberFactory(), MemberFactory()
    events = [
        received(first, "v1", "SO-1"),
        received(first, "bad", "SO-2", amount="abc"),
        received(second, "v2", "SO-3"),
        dict(received(second, "lost", "SO-4"), member="0000000000"),
        received(second, "old", "SO-5", occurred_at=now_iso(days=91)),
        received(first, "v3", "SO-6"),
    ]
    results = batch(api_client, events)
    assert [r["status"] for r in results] == [201, 400, 201, 404, 400, 201]
    assert results[1]["fields"] == {"order": {"amount": ["A valid number is required."]}}
    assert results[1]["id"] == "bad"
    assert results[3]["code"] == "member_not_found"
    assert results[4]["fields"] == {"occurred_at": ["Events older than 90 days are not accepted."]}
    assert [r["balance"] for r in results if r["status"] == 201] == [5, 5, 5]
    assert set(Event.objects.values_list("key", flat=True)) == {"v1", "v2", "v3"}
    assert set(Order.objects.values_list("number", flat=True)) == {"SO-1", "SO-3", "SO-6"}
    assert written() == (3, 3, 3, 2, 0)
    assert ledger_mismatches() == []


def test_duplicate_ids_in_one_batch_replay_or_conflict(
    api_client: APIClient, member: Member
) -> None:
    body = received(member, "e1", "SO-1")
    other = received(member, "e1", "SO-2")
    results = batch(api_client, [body, body, other, received(member, "e2", "SO-2")])
    assert [r["status"] for r in results] == [201, 200, 409, 201]
    assert results[1] == dict(results[0], status=200)
    assert results[2]["code"] == "idempotency_conflict" and results[2]["id"] == "e1"
    assert written() == (2, 2, 2, 1, 0)


def test_a_replayed_batch_writes_nothing_and_answers_the_same(
    api_client: APIClient, member: Member
) -> None:
    events = [received(member, f"e{n}", f"SO-{n}", categories=[f"c{n}"]) for n in range(4)]
    first = batch(api_client, events)
    before = written()
    again = batch(api_client, events)
    assert [r["status"] for r in first] == [201] * 4
    assert again == [dict(r, status=200) for r in first]
    assert written() == before
    changed = [dict(events[0], occurred_at=now_iso(minutes=1)), *events[1:]]
    assert [r["status"] for r in batch(api_client, changed)] == [409, 200, 200, 200]
    assert written() == before


def test_same_member_many_times_meets_the_daily_cap_exactly(
    api_client: APIClient, member: Member
) -> None:
    events = [received(member, f"e{n}", f"SO-{n}") for n in range(30)]
    results = batch(api_client, events)
    assert [r["points"] for r in results] == [5] + [0] * 29
    assert results[-1]["entries"] == [
        {"points": 0, "kind": "earn", "reason": "daily shopping cap of 5 reached: 0 points"}
    ]
    assert Account.objects.get(member=member).balance == 5
    more = batch(api_client, [received(member, "late", "SO-late")])
    assert more[0]["points"] == 0
    assert PointEntry.objects.filter(member=member).count() == 31


def test_an_order_number_already_received_or_twice_in_a_batch_is_409(
    api_client: APIClient, member: Member
) -> None:
    batch(api_client, [received(member, "e1", "SO-1")])
    results = batch(
        api_client,
        [
            received(member, "e2", "SO-1"),
            received(member, "e3", "SO-2"),
            received(member, "e4", "SO-2"),
        ],
    )
    assert [(r["status"], r.get("code")) for r in results] == [
        (409, "order_already_received"),
        (201, None),
        (409, "order_already_received"),
    ]
    assert set(Event.objects.values_list("key", flat=True)) == {"e1", "e3"}
    assert written() == (2, 2, 2, 1, 0)


def test_a_return_earlier_in_the_batch_frees_its_cap_room(
    api_client: APIClient, member: Member
) -> None:
    results = batch(
        api_client,
        [
            received(member, "e1", "SO-1"),
            {
                "id": "r1",
                "type": "order.returned",
                "member": member.number,
                "occurred_at": now_iso(),
                "order": {"number": "SO-1"},
            },
            received(member, "e2", "SO-2"),
        ],
    )
    assert [r["points"] for r in results] == [5, -5, 5]
    assert results[2]["entries"][0]["reason"] == "5 points for order SO-2"
    assert results[2]["balance"] == 5


def test_an_earning_in_a_batch_repays_a_debt_first(api_client: APIClient, member: Member) -> None:
    batch(api_client, [received(member, "e1", "SO-1")])
    url = f"/api/v1/members/{member.number}/redemptions/"
    api_client.post(url, {"id": "x1", "points": 4, "reason": "coupon"}, format="json")
    fraud = {
        "id": "f1",
        "type": "order.fraud",
        "member": member.number,
        "occurred_at": now_iso(),
        "order": {"number": "SO-1"},
    }
    results = batch(
        api_client, [fraud, received(member, "e2", "SO-2", occurred_at=now_iso(days=1))]
    )
    assert [r["balance"] for r in results] == [-4, 1]
    lot = PointLot.objects.get(entry__order__number="SO-2")
    assert (lot.points, lot.remaining) == (5, 1)
    assert LotAllocation.objects.get(lot=lot).points == -4
    assert ledger_mismatches() == []


def test_campaigns_and_other_types_in_a_batch(api_client: APIClient, member: Member) -> None:
    today = timezone.now().date()
    campaign = Campaign.objects.create(
        name="11.11",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
        multiplier="2",
        categories="shoes",
    )
    campaign.tiers.add(Tier.objects.get(code="standard"))
    review = {
        "id": "rv1",
        "type": "review.posted",
        "member": member.number,
        "occurred_at": now_iso(),
        "review": {"id": "R1", "product": "P1"},
    }
    results = batch(
        api_client,
        [
            received(member, "e1", "SO-1", categories=["Shoes"]),
            review,
            received(member, "e2", "SO-2"),
        ],
    )
    assert [r["points"] for r in results] == [10, 1, 0]
    assert results[0]["entries"][-1] == {
        "points": 5,
        "kind": "earn",
        "reason": "5 bonus points: 11.11 (order SO-1)",
    }
    assert [r["balance"] for r in results] == [10, 11, 11]
    assert PointEntry.objects.get(campaign=campaign).event.key == "e1"  # type: ignore[union-attr]
    assert ledger_mismatches() == []


def test_a_batch_runs_a_constant_number_of_queries(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    members = [MemberFactory() for _ in range(6)]
    for member in members:
        account_open(member_id=member.pk)
    batch(api_client, [received(members[0], "warm", "W-1")])  # the API key's last use
    few = [received(m, f"a{n}", f"A-{n}", categories=["x"]) for n, m in enumerate(members[:3])]
    many = [
        received(members[3 + n % 3], f"b{n}", f"B-{n}", categories=[f"c{n}"]) for n in range(30)
    ]
    # the API key and the program are memoised; in the test's transaction a savepoint, the
    # snapshot under the account locks (loyalty_earning_snapshot), the plan's rows
    # (loyalty_earning_write), the savepoint's release (BEGIN and COMMIT in production)
    queries = 4
    with django_assert_num_queries(queries):
        assert {r["status"] for r in batch(api_client, few)} == {201}
    with django_assert_num_queries(queries):
        results = batch(api_client, many)
    assert [r["points"] for r in results] == [5] * 3 + [1] * 9 + [0] * 18
    assert ledger_mismatches() == []


def test_members_without_an_account_get_one(api_client: APIClient) -> None:
    member = MemberFactory()
    Account.objects.filter(member=member).delete()
    results = batch(api_client, [received(member, "e1", "SO-1")])
    assert results[0]["balance"] == 5
    assert Account.objects.get(member=member).balance == 5


def test_one_event_runs_a_fixed_number_of_queries(
    api_client: APIClient, member: Member, django_assert_num_queries: Any
) -> None:
    account_open(member_id=member.pk)
    api_client.post(
        "/api/v1/events/",
        received(member, "warm", "W-1", occurred_at=now_iso(days=2)),
        format="json",
    )
    # the same four statements as a batch's: one event is a run of one
    one, capped = 4, 4
    with django_assert_num_queries(one):
        response = api_client.post(
            "/api/v1/events/", received(member, "e1", "SO-1", categories=["shoes"]), format="json"
        )
    assert response.status_code == 201
    # a capped order without categories: no day's categories, lot or campaigns
    with django_assert_num_queries(capped):
        response = api_client.post("/api/v1/events/", received(member, "e2", "SO-2"), format="json")
    assert response.json()["points"] == 0


def test_a_member_number_spelled_with_spaces_is_still_found(
    api_client: APIClient, member: Member
) -> None:
    single = dict(received(member, "e1", "SO-1"), member=f" {member.number} ")
    response = api_client.post("/api/v1/events/", single, format="json")
    assert (response.status_code, response.json()["member"]) == (201, member.number)
    in_batch = dict(received(member, "e2", "SO-2"), member=f"{member.number} ")
    results = batch(api_client, [in_batch, received(member, "e3", "SO-3")])
    assert [r["status"] for r in results] == [201, 201]
    assert Event.objects.count() == 3


def test_a_batch_counts_caps_and_categories_by_the_program_local_day(
    api_client: APIClient, member: Member, tz_program: Any
) -> None:
    """Asia/Shanghai is UTC+8: 15:55 UTC is 23:55 of one local day, 16:10 and 16:20 UTC are
    00:10 and 00:20 of the next, though all three are one UTC day. The batch reads what was
    earned before it (the one-by-one event at 16:10) by local day, as `order_receive` does."""
    base = (timezone.now() - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    def at(hour: int, minute: int) -> str:
        return (base + timedelta(hours=hour, minutes=minute)).isoformat()

    first = api_client.post(
        "/api/v1/events/",
        received(member, "e1", "SO-1", occurred_at=at(16, 10), categories=["shoes"]),
        format="json",
    )
    assert first.json()["points"] == 5
    next_day = (base + timedelta(days=1)).date()
    results = batch(
        api_client,
        [
            received(member, "e2", "SO-2", occurred_at=at(15, 55), categories=["hats"]),
            received(member, "e3", "SO-3", occurred_at=at(16, 20), categories=["bags"]),
        ],
    )
    # the local day before SO-1's: a fresh cap, one category
    assert [(x["points"], x["reason"]) for x in results[0]["entries"]] == [
        (5, "5 points for order SO-2")
    ]
    # SO-1's local day: its cap is used up; "bags" is a second category after SO-1's "shoes"
    assert [(x["points"], x["reason"]) for x in results[1]["entries"]] == [
        (0, "daily shopping cap of 5 reached: 0 points"),
        (1, f"1 point for 1 more categories on {next_day} (order SO-3)"),
    ]
