"""What a member sees of the tier: dashboard card, /me/tier/, the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from loyalty.ledger.models import Account
from loyalty.tiers import selectors
from loyalty.tiers.models import TierChange
from loyalty.tiers.selectors import member_tier_status
from tests.factories import dashboard_render_forced
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 22)


@pytest.fixture
def gold_member(
    ladder: Any, tz_program: Any, account_member: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Gold since 1 November; 120 qualifying points today, 40 of which leave on 30 November."""
    monkeypatch.setattr(selectors, "program_today", lambda: TODAY)
    member = account_member()
    Account.objects.filter(member=member).update(
        tier=ladder["gold"], tier_effective_on=date(2026, 11, 1)
    )
    earn(member, 1000, datetime(2025, 11, 22, 23, 0, tzinfo=SH))  # just outside the window
    earn(member, 40, datetime(2025, 11, 23, 0, 0, tzinfo=SH))  # first day: leaves at month end
    earn(member, 80, datetime(2026, 10, 1, tzinfo=SH))
    earn(member, 500, datetime(2026, 11, 23, 0, 0, tzinfo=SH))  # tomorrow: not yet
    return member


def test_status_forecast(gold_member: Any, ladder: Any) -> None:
    status = member_tier_status(gold_member)
    assert (status.tier, status.next_tier) == (ladder["gold"], ladder["platinum"])
    assert (status.qualifying_points, status.leaving, status.projected) == (120, 40, 80)
    assert (status.points_to_next_tier, status.needed_for_next, status.needed_to_keep) == (
        381,
        421,
        21,
    )
    assert (status.progress_percent, status.next_evaluation) == (4, date(2026, 11, 30))


def test_member_without_evaluation_is_in_the_base_tier(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    status = member_tier_status(account_member())
    assert (status.tier, status.next_tier, status.qualifying_points) == (
        ladder["standard"],
        ladder["silver"],
        0,
    )
    assert (status.points_to_next_tier, status.progress_percent, status.needed_to_keep) == (1, 0, 0)


def test_dashboard_tier_card(
    gold_member: Any, client: Client, django_assert_max_num_queries: Any
) -> None:
    client.force_login(gold_member)
    client.get("/me/")  # the day's first visit also writes the visit point; not measured here
    with django_assert_max_num_queries(8):
        response = client.get("/me/")
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert 'data-testid="tier-badge">Gold</span>' in html
    assert 'data-testid="qualifying-points">120</dd>' in html
    assert 'max="100" value="4"' in html
    assert "381 more qualifying points to Platinum." in html
    assert "40 qualifying points leave the window at the evaluation on Nov. 30, 2026." in html
    assert "Earn 21 more points by Nov. 30, 2026 to keep Gold." in html
    assert "Earn 421 more points by Nov. 30, 2026 to reach Platinum." in html


def test_dashboard_queries_do_not_grow_with_history(
    gold_member: Any, client: Client, django_assert_num_queries: Any
) -> None:
    client.force_login(gold_member)
    client.get("/me/")  # warm the program-settings cache
    dashboard_render_forced(gold_member)  # measure the render of the cards, not the cached ones
    with CaptureQueriesContext(connection) as captured:
        client.get("/me/")
    before = len(captured)
    assert before <= 8
    for day in range(1, 29):
        earn(gold_member, 1, datetime(2026, 2, day, tzinfo=SH))
    with django_assert_num_queries(before):
        client.get("/me/")


def test_tier_page_ladder_and_history(
    gold_member: Any, ladder: Any, client: Client, django_assert_max_num_queries: Any
) -> None:
    for month in (8, 9, 10):
        TierChange.objects.create(
            member=gold_member,
            period=date(2026, month, 1),
            from_tier=ladder["silver"] if month != 9 else ladder["gold"],
            to_tier=ladder["gold"] if month != 9 else ladder["silver"],
            direction="up" if month != 9 else "down",
            qualifying_points=100 + month,
            effective_on=date(2026, month + 1, 1),
            applied=True,
            created_at=datetime(2026, month + 1, 1, tzinfo=SH),
        )
    client.force_login(gold_member)
    with django_assert_max_num_queries(8):
        response = client.get("/me/tier/")
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert html.count("<tr") == 1 + 5 + 1 + 3  # ladder header + 5 tiers, history header + 3
    assert "1501 and more" in html
    assert '<tr aria-current="true">' in html
    assert "October 2026" in html and "<td>110</td>" in html
    assert 'href="/me/tier/" aria-current="page"' in html  # the nav entry


def test_tier_page_empty_history(
    ladder: Any, tz_program: Any, account_member: Any, client: Client
) -> None:
    client.force_login(account_member())
    response = client.get("/me/tier/")
    assert "No tier changes yet." in response.content.decode()


def test_tier_page_needs_login(client: Client) -> None:
    response = client.get("/me/tier/")
    assert response.status_code == 302


def test_api_me_has_the_tier_fields(gold_member: Any) -> None:
    client = APIClient()
    client.force_login(gold_member)
    data = client.get("/api/v1/me/").json()
    tier_fields = ["tier", "qualifying_points", "next_tier", "points_to_next_tier"]
    assert {key: data[key] for key in [*tier_fields, "tier_effective_on"]} == {
        "tier": {"code": "gold", "name": "Gold"},
        "qualifying_points": 120,
        "next_tier": {"code": "platinum", "name": "Platinum"},
        "points_to_next_tier": 381,
        "tier_effective_on": "2026-11-01",
    }


def test_api_tier_list(ladder: Any, api_client: APIClient) -> None:
    response = api_client.get("/api/v1/tiers/")
    assert response.status_code == 200
    body = response.json()
    assert [t["code"] for t in body] == ["standard", "silver", "gold", "platinum", "diamond"]
    assert body[3] == {
        "code": "platinum",
        "name": "Platinum",
        "rank": 4,
        "min_points": 501,
        "discount_percent": "10.00",
        "fast_refund_limit": "24.00",
        "badge_colour": "#0f766e",
        "description": "",
    }


def test_api_tier_list_needs_credentials(ladder: Any) -> None:
    response = APIClient().get("/api/v1/tiers/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
