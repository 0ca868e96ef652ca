from __future__ import annotations

import pytest
from django.test import Client

from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.services import points_award
from loyalty.program.models import Campaign, EarningRule
from members.models import Member
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    return client


def test_ledger_is_read_only_and_searchable(staff: Client, member: Member) -> None:
    entry = points_award(member_id=member.pk, points=5, reason="5 points for order SO-77")
    listing = staff.get(f"/admin/loyalty/pointentry/?q={member.number}")
    assert listing.status_code == 200
    assert "5 points for order SO-77" in listing.content.decode()
    assert staff.get("/admin/loyalty/pointentry/add/").status_code == 403
    detail = staff.post(f"/admin/loyalty/pointentry/{entry.pk}/change/", {"points": 500})
    assert detail.status_code == 403
    assert PointEntry.objects.get().points == 5


def test_adjustment_form_requires_a_reason(staff: Client, member: Member) -> None:
    response = staff.post(
        "/admin/loyalty/pointentry/adjust/",
        {"member": member.number, "points": "10", "reason": "   "},
    )
    assert response.status_code == 200
    assert "A reason is required." in response.content.decode()
    assert not PointEntry.objects.exists()


def test_adjustment_form_records_the_staff_user(staff: Client, member: Member) -> None:
    response = staff.post(
        "/admin/loyalty/pointentry/adjust/",
        {"member": member.number, "points": "10", "reason": "goodwill for late parcel"},
    )
    assert response.status_code == 302
    entry = PointEntry.objects.get()
    assert (entry.kind, entry.points, entry.reason) == ("adjust", 10, "goodwill for late parcel")
    assert entry.created_by is not None and entry.created_by.is_staff
    assert Account.objects.get(member=member).balance == 10
    too_much = staff.post(
        "/admin/loyalty/pointentry/adjust/",
        {"member": member.number, "points": "-11", "reason": "oops"},
    )
    assert too_much.status_code == 200
    assert "Not enough points" in too_much.content.decode()
    assert PointEntry.objects.count() == 1


def test_adjustment_needs_staff(member_client: Client, member: Member) -> None:
    response = Client().get("/admin/loyalty/pointentry/adjust/")
    assert response.status_code == 302
    assert not PointEntry.objects.exists()


def test_rules_and_campaigns_are_validated(staff: Client) -> None:
    rule = EarningRule.objects.get(kind="visit")
    response = staff.post(
        f"/admin/loyalty/earningrule/{rule.pk}/change/",
        {
            "kind": "visit",
            "name": "Visit",
            "points": "1",
            "cap": "12",
            "cap_period": "month",
            "cap_group": "fan",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "Rules in one group share a cap" in response.content.decode()
    assert EarningRule.objects.get(pk=rule.pk).cap == 10
    response = staff.post(
        "/admin/loyalty/campaign/add/",
        {
            "name": "Xmas",
            "starts_on": "2026-12-20",
            "ends_on": "2026-12-10",
            "multiplier": "2",
            "bonus_points": "3",
            "active": "on",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "The last day cannot be before the first day." in body
    assert "Give either a multiplier or a flat bonus, not both." in body
    assert not Campaign.objects.exists()
