from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from loyalty.earning.models import Visit
from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import points_award, points_redeem
from members.models import Member
from tests.factories import dashboard_render_forced

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


@pytest.fixture
def web(member: Member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_points_page_empty_state(web: Client) -> None:
    response = web.get("/me/points/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="points-empty"' in html
    assert 'data-testid="points-balance">0<' in html


def test_points_page_lists_reasons_filters_and_paginates(web: Client, member: Member) -> None:
    start = timezone.now() - timedelta(days=40)
    for n in range(30):
        points_award(
            member_id=member.pk,
            points=2,
            reason=f"2 points for order SO-{n}",
            occurred_at=start + timedelta(days=n),
        )
    points_redeem(member_id=member.pk, points=5, reason="coupon C-9")
    html = web.get("/me/points/").content.decode()
    assert "coupon C-9" in html
    assert "2 points for order SO-29" in html
    assert "2 points for order SO-5" not in html  # on page 2
    assert "Page 1 of 2" in html
    page2 = web.get("/me/points/?page=2").content.decode()
    assert "2 points for order SO-5" in page2
    spent = web.get("/me/points/?kind=redeem").content.decode()
    assert "coupon C-9" in spent and "SO-29" not in spent
    assert 'data-testid="points-balance">55<' in html


def test_points_page_runs_constant_queries(
    web: Client, member: Member, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(8):
        web.get("/me/points/")
    for n in range(60):
        points_award(member_id=member.pk, points=1, reason=f"r{n}")
    with django_assert_max_num_queries(8):
        response = web.get("/me/points/")
    assert response.status_code == 200


def test_points_page_needs_login() -> None:
    response = Client().get("/me/points/")
    assert response.status_code == 302


def test_dashboard_awards_the_visit_point_once_a_day(web: Client, member: Member) -> None:
    first = web.get("/me/")
    assert first.status_code == 200
    html = first.content.decode()
    assert 'data-testid="dashboard-points">1<' in html
    web.get("/me/")
    entries = list(PointEntry.objects.filter(member=member).values_list("points", "reason"))
    today = timezone.now().date().isoformat()
    assert entries == [(1, f"1 point for your visit on {today}")]
    assert Visit.objects.filter(member=member).count() == 1


def test_dashboard_shows_next_expiry(web: Client, member: Member) -> None:
    points_award(
        member_id=member.pk,
        points=7,
        reason="x",
        occurred_at=datetime(2026, 3, 2, 12, tzinfo=ZoneInfo("UTC")),
    )
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("UTC")), tick=False):
        html = web.get("/me/").content.decode()
    assert "7 points on March 2, 2027" in html


def test_dashboard_constant_queries_after_the_visit(
    web: Client, member: Member, django_assert_max_num_queries: Any
) -> None:
    web.get("/me/")
    dashboard_render_forced(member)  # measure the render of the cards, not the cached ones
    with django_assert_max_num_queries(8):
        web.get("/me/")
