from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.earning.models import Event, Order
from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.selectors import ledger_mismatches
from loyalty.program.models import Campaign, Tier
from members.models import Member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


def now_iso(**delta: float) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def received(
    member: Member, key: str, number: str, amount: str = "12.50", **extra: Any
) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": member.number,
        "occurred_at": extra.pop("occurred_at", now_iso(minutes=5)),
        "order": {"number": number, "amount": amount, "currency": "USD", **extra},
    }


def returned(member: Member, key: str, number: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.returned",
        "member": member.number,
        "occurred_at": now_iso(),
        "order": {"number": number},
        **extra,
    }


def post(client: APIClient, body: Any, url: str = "/api/v1/events/") -> Any:
    return client.post(url, body, format="json")


def test_order_received_earns_5_points(api_client: APIClient, member: Member) -> None:
    response = post(api_client, received(member, "e1", "SO-1042", categories=["shoes"]))
    assert response.status_code == 201
    assert response.json() == {
        "id": "e1",
        "type": "order.received",
        "member": member.number,
        "points": 5,
        "entries": [{"points": 5, "kind": "earn", "reason": "5 points for order SO-1042"}],
        "balance": 5,
    }
    entry = PointEntry.objects.get()
    assert entry.event is not None and entry.event.key == "e1"
    assert entry.api_key is not None and entry.rule is not None
    assert entry.order is not None and entry.order.number == "SO-1042"


def test_same_id_same_body_is_200_with_the_same_answer(
    api_client: APIClient, member: Member
) -> None:
    body = received(member, "e1", "SO-1")
    first = post(api_client, body)
    again = post(api_client, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert PointEntry.objects.count() == 1
    assert Event.objects.count() == 1


def test_same_id_different_body_is_409(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    response = post(api_client, received(member, "e1", "SO-2"))
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert PointEntry.objects.count() == 1
    assert not Order.objects.filter(number="SO-2").exists()


def test_unknown_member_is_404(api_client: APIClient, member: Member) -> None:
    body = received(member, "e1", "SO-1")
    body["member"] = "0000000000"
    response = post(api_client, body)
    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert not Event.objects.exists()


def test_return_of_an_order_never_received_is_422(api_client: APIClient, member: Member) -> None:
    body = {
        "id": "r1",
        "type": "order.returned",
        "member": member.number,
        "occurred_at": now_iso(),
        "order": {"number": "NOPE"},
    }
    response = post(api_client, body)
    assert response.status_code == 422
    assert response.json()["code"] == "order_not_found"
    assert not Event.objects.exists()
    assert not PointEntry.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "not a date"}, "occurred_at"),
        ({"type": "order.unknown"}, "type"),
        ({"id": ""}, "id"),
        ({"member": None}, "member"),
        ({"order": None}, "order"),
        ({"order": {"number": "SO-1", "amount": "abc", "currency": "USD"}}, "order"),
        ({"order": {"number": "SO-1", "amount": "5.00", "currency": "EUR"}}, "order"),
        ({"order": {"number": "SO-1", "amount": "-1.00", "currency": "USD"}}, "order"),
    ],
)
def test_bad_input_is_400_with_field_errors(
    api_client: APIClient, member: Member, change: dict[str, Any], field: str
) -> None:
    body = received(member, "e1", "SO-1")
    body.update(change)
    response = post(api_client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Event.objects.exists()
    assert not PointEntry.objects.exists()


def test_currency_error_names_the_nested_field(api_client: APIClient, member: Member) -> None:
    body = received(member, "e1", "SO-1")
    body["order"]["currency"] = "EUR"
    fields = post(api_client, body).json()["fields"]
    assert fields == {"order": {"currency": ["Only USD is accepted."]}}


def test_older_than_backdating_limit_is_400(api_client: APIClient, member: Member) -> None:
    ok = post(api_client, received(member, "e1", "SO-1", occurred_at=now_iso(days=89)))
    assert ok.status_code == 201
    old = post(api_client, received(member, "e2", "SO-2", occurred_at=now_iso(days=91)))
    assert old.status_code == 400
    assert old.json()["fields"] == {"occurred_at": ["Events older than 90 days are not accepted."]}


def test_missing_fields_are_listed(api_client: APIClient) -> None:
    response = post(api_client, {})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"id", "type", "member", "occurred_at"}


def test_daily_shopping_cap_records_zero_with_reason(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    second = post(api_client, received(member, "e2", "SO-2"))
    assert second.status_code == 201
    assert second.json()["entries"] == [
        {"points": 0, "kind": "earn", "reason": "daily shopping cap of 5 reached: 0 points"}
    ]
    assert second.json()["balance"] == 5


def test_a_returned_order_frees_its_room_in_the_daily_cap(
    api_client: APIClient, member: Member
) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    post(api_client, returned(member, "r1", "SO-1"))
    again = post(api_client, received(member, "e2", "SO-2"))
    assert again.json()["entries"] == [
        {"points": 5, "kind": "earn", "reason": "5 points for order SO-2"}
    ]
    assert again.json()["balance"] == 5


def test_a_partly_returned_order_frees_only_the_reversed_part_of_the_cap(
    api_client: APIClient, member: Member
) -> None:
    post(api_client, received(member, "e1", "SO-1", amount="10.00"))
    post(api_client, returned(member, "r1", "SO-1", returned_amount="4.00"))  # 2 of 5 reversed
    again = post(api_client, received(member, "e2", "SO-2"))
    assert again.json()["entries"] == [
        {
            "points": 2,
            "kind": "earn",
            "reason": "2 points for order SO-2 (daily shopping cap of 5 reached)",
        }
    ]
    assert again.json()["balance"] == 5


def test_order_below_minimum_earns_zero_with_reason(api_client: APIClient, member: Member) -> None:
    response = post(api_client, received(member, "e1", "SO-1", amount="1.99"))
    assert response.json()["entries"] == [
        {
            "points": 0,
            "kind": "earn",
            "reason": "order SO-1 is below the minimum of 2.00 USD: 0 points",
        }
    ]


def test_category_bonus_per_extra_category_capped_at_3(
    api_client: APIClient, member: Member
) -> None:
    first = post(api_client, received(member, "e1", "SO-1", categories=["shoes", "bags"]))
    assert [e["points"] for e in first.json()["entries"]] == [5, 1]
    second = post(api_client, received(member, "e2", "SO-2", categories=["bags", "toys", "books"]))
    assert [e["points"] for e in second.json()["entries"]] == [0, 2]
    third = post(api_client, received(member, "e3", "SO-3", categories=["food", "tea"]))
    assert third.json()["entries"][1] == {
        "points": 0,
        "kind": "earn",
        "reason": "daily category bonus cap of 3 reached: 0 points",
    }
    assert third.json()["balance"] == 8


def test_proportional_return_and_fraud(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1", amount="10.00"))
    ret = {
        "id": "r1",
        "type": "order.returned",
        "member": member.number,
        "occurred_at": now_iso(),
        "order": {"number": "SO-1"},
        "returned_amount": "4.00",
    }
    response = post(api_client, ret)
    assert response.status_code == 201
    assert response.json()["entries"] == [
        {"points": -2, "kind": "reverse", "reason": "order SO-1 returned (4.00 of 10.00 USD)"}
    ]
    too_much = dict(ret, id="r2", returned_amount="6.01")
    bad = post(api_client, too_much)
    assert bad.status_code == 400
    assert bad.json()["fields"] == {
        "returned_amount": ["Only 6.00 USD of order SO-1 is left to return."]
    }
    assert Order.objects.get().returned_amount == 4
    assert not Event.objects.filter(key="r2").exists()
    assert PointEntry.objects.count() == 2
    fraud = post(
        api_client,
        {
            "id": "f1",
            "type": "order.fraud",
            "member": member.number,
            "occurred_at": now_iso(),
            "order": {"number": "SO-1"},
        },
    )
    assert fraud.json()["entries"] == [
        {"points": -3, "kind": "reverse", "reason": "order SO-1 flagged as fraud"}
    ]
    assert fraud.json()["balance"] == 0
    earning = PointEntry.objects.get(kind="earn")
    assert set(
        PointEntry.objects.filter(kind="reverse").values_list("qualifying_at", flat=True)
    ) == {earning.occurred_at}
    assert ledger_mismatches() == []


def test_whole_return_in_parts_reverses_every_point(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1", amount="3.00"))
    base = {"type": "order.returned", "member": member.number, "order": {"number": "SO-1"}}
    for key in ("r1", "r2"):
        post(api_client, dict(base, id=key, occurred_at=now_iso(), returned_amount="1.00"))
    last = post(api_client, dict(base, id="r3", occurred_at=now_iso()))
    assert last.status_code == 201
    assert sum(PointEntry.objects.values_list("points", flat=True)) == 0
    assert Order.objects.get().returned_amount == 3


def test_reviews_and_visits_share_10_a_month(api_client: APIClient, member: Member) -> None:
    for n in range(11):
        response = post(
            api_client,
            {
                "id": f"rv{n}",
                "type": "review.posted",
                "member": member.number,
                "occurred_at": now_iso(),
                "review": {"id": f"R{n}", "product": "P1"},
            },
        )
    assert response.json()["entries"] == [
        {"points": 0, "kind": "earn", "reason": "monthly fan cap of 10 reached: 0 points"}
    ]
    assert response.json()["balance"] == 10


def test_club_post_earns_2(api_client: APIClient, member: Member) -> None:
    body = {
        "id": "c1",
        "type": "club.posted",
        "member": member.number,
        "occurred_at": now_iso(),
        "post": {"id": "P9"},
    }
    assert post(api_client, body).json()["entries"] == [
        {"points": 2, "kind": "earn", "reason": "2 points for club post P9"}
    ]


@pytest.mark.parametrize(
    ("kind", "part", "code"),
    [
        ("review.posted", {"review": {"id": "R1", "product": "P1"}}, "review_already_received"),
        ("club.posted", {"post": {"id": "P1"}}, "post_already_received"),
    ],
)
def test_a_review_or_post_is_rewarded_once_whatever_its_event_id(
    api_client: APIClient, member: Member, kind: str, part: dict[str, Any], code: str
) -> None:
    def body(key: str) -> dict[str, Any]:
        return {"id": key, "type": kind, "member": member.number, "occurred_at": now_iso(), **part}

    first = post(api_client, body("k1"))
    assert first.status_code == 201 and first.json()["points"] > 0
    again = post(api_client, body("k2"))  # the same review or post, reported again
    assert again.status_code == 409
    assert again.json()["code"] == code
    assert Event.objects.count() == 1
    assert PointEntry.objects.count() == 1
    assert Account.objects.get(member=member).balance == first.json()["points"]


def test_campaign_multiplier_for_target_tier(api_client: APIClient, member: Member) -> None:
    today = timezone.now().date()
    campaign = Campaign.objects.create(
        name="11.11",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
        multiplier="2",
        categories="shoes",
    )
    campaign.tiers.add(Tier.objects.get(code="standard"))
    response = post(api_client, received(member, "e1", "SO-1", categories=["Shoes"]))
    assert response.json()["entries"][-1] == {
        "points": 5,
        "kind": "earn",
        "reason": "5 bonus points: 11.11 (order SO-1)",
    }
    assert PointEntry.objects.get(campaign=campaign).points == 5
    campaign.tiers.set([Tier.objects.get(code="gold")])
    other = post(api_client, received(member, "e2", "SO-2", occurred_at=now_iso(days=2)))
    assert other.json()["points"] == 5


def test_batch_one_result_per_event_in_order(api_client: APIClient, member: Member) -> None:
    first = received(member, "b1", "SO-1")
    events = [
        first,
        {"id": "b2"},
        first,
        dict(received(member, "b3", "SO-3"), member="0000000000"),
    ]
    response = post(api_client, {"events": events}, "/api/v1/events/batch/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 200, 404]
    assert results[0]["points"] == 5
    assert results[1]["code"] == "invalid" and "type" in results[1]["fields"]
    assert results[2] == dict(results[0], status=200)
    assert results[3]["code"] == "member_not_found"
    assert PointEntry.objects.count() == 1


def test_batch_over_500_is_400(api_client: APIClient, member: Member) -> None:
    events = [received(member, f"b{n}", f"SO-{n}") for n in range(501)]
    response = post(api_client, {"events": events}, "/api/v1/events/batch/")
    assert response.status_code == 400
    assert "events" in response.json()["fields"]
    assert not PointEntry.objects.exists()


def test_redemption_201_replay_and_insufficient(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    url = f"/api/v1/members/{member.number}/redemptions/"
    first = post(api_client, {"id": "x1", "points": 3, "reason": "coupon"}, url)
    assert first.status_code == 201
    assert first.json()["balance"] == 2
    assert first.json()["entries"] == [{"points": -3, "kind": "redeem", "reason": "coupon"}]
    again = post(api_client, {"id": "x1", "points": 3, "reason": "coupon"}, url)
    assert (again.status_code, again.json()) == (200, first.json())
    conflict = post(api_client, {"id": "x1", "points": 2, "reason": "coupon"}, url)
    assert conflict.status_code == 409
    short = post(api_client, {"id": "x2", "points": 3, "reason": "coupon"}, url)
    assert short.status_code == 422
    assert short.json()["code"] == "insufficient_points"
    assert Account.objects.get(member=member).balance == 2
    assert PointEntry.objects.filter(kind="redeem").count() == 1
    missing = post(api_client, {"id": "x3", "points": 1}, "/api/v1/members/0000000000/redemptions/")
    assert missing.status_code == 404
    bad = post(api_client, {"id": "x4", "points": 0}, url)
    assert bad.status_code == 400 and "points" in bad.json()["fields"]


def test_points_history_newest_first_cursor_paginated(
    api_client: APIClient, member: Member, member_client: APIClient
) -> None:
    for n in range(3):
        post(api_client, received(member, f"e{n}", f"SO-{n}", occurred_at=now_iso(days=3 - n)))
    page = api_client.get(f"/api/v1/members/{member.number}/points/?page_size=2")
    assert page.status_code == 200
    body = page.json()
    assert [e["order"] for e in body["results"]] == ["SO-2", "SO-1"]
    rest = api_client.get(body["next"]).json()
    assert [e["order"] for e in rest["results"]] == ["SO-0"]
    assert rest["next"] is None
    mine = member_client.get("/api/v1/me/points/?kind=earn")
    assert [e["order"] for e in mine.json()["results"]] == ["SO-2", "SO-1", "SO-0"]
    assert member_client.get(f"/api/v1/members/{member.number}/points/").status_code == 403
    assert api_client.get("/api/v1/members/0000000000/points/").status_code == 404


def test_member_resource_has_balance_and_expiry(api_client: APIClient, member: Member) -> None:
    blank = api_client.get(f"/api/v1/members/{member.number}/").json()
    assert (blank["points_balance"], blank["expiring_points"]) == (0, None)
    post(api_client, received(member, "e1", "SO-1", occurred_at="2026-11-01T12:00:00+00:00"))
    data = api_client.get(f"/api/v1/members/{member.number}/").json()
    assert data["points_balance"] == 5
    assert data["expiring_points"] == {"points": 5, "on": "2027-11-01"}


def test_events_need_an_api_key(member_client: APIClient, member: Member) -> None:
    response = post(member_client, received(member, "e1", "SO-1"))
    assert response.status_code == 403
    assert not PointEntry.objects.exists()


def test_an_order_number_received_twice_is_409(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    response = post(api_client, received(member, "e2", "SO-1"))
    assert response.status_code == 409
    assert response.json()["code"] == "order_already_received"
    assert not Event.objects.filter(key="e2").exists()
    assert PointEntry.objects.count() == 1


def test_fraud_after_spending_leaves_a_debt(api_client: APIClient, member: Member) -> None:
    post(api_client, received(member, "e1", "SO-1"))
    url = f"/api/v1/members/{member.number}/redemptions/"
    post(api_client, {"id": "x1", "points": 4, "reason": "coupon"}, url)
    fraud = {
        "id": "f1",
        "type": "order.fraud",
        "member": member.number,
        "occurred_at": now_iso(),
        "order": {"number": "SO-1"},
    }
    assert post(api_client, fraud).json()["balance"] == -4
    blocked = post(api_client, {"id": "x2", "points": 1, "reason": "coupon"}, url)
    assert blocked.status_code == 422
    assert blocked.json()["code"] == "insufficient_points"
    assert ledger_mismatches() == []


def test_history_lists_entries_without_an_order(member_client: APIClient, member: Member) -> None:
    from loyalty.ledger.services import points_adjust

    points_adjust(member_id=member.pk, points=3, reason="goodwill", created_by_id=None)
    results = member_client.get("/api/v1/me/points/").json()["results"]
    assert [(e["kind"], e["points"], e["reason"], e["order"]) for e in results] == [
        ("adjust", 3, "goodwill", None)
    ]


def test_history_endpoint_runs_constant_queries(
    api_client: APIClient, member: Member, django_assert_max_num_queries: Any
) -> None:
    from loyalty.ledger.services import points_award

    for n in range(40):
        points_award(member_id=member.pk, points=1, reason=f"r{n}")
    with django_assert_max_num_queries(4):
        response = api_client.get(f"/api/v1/members/{member.number}/points/")
    assert len(response.json()["results"]) == 40
