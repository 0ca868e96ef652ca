"""Stored point reasons are shown in the reader's language (loyalty.reasons)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation
from rest_framework.test import APIClient

from loyalty.earning import points_visit_award
from loyalty.ledger.models import PointEntry
from loyalty.ledger.reasons import localize
from loyalty.ledger.services import points_award, points_expire_due, points_redeem, points_reverse
from loyalty.program.models import Campaign
from members.models import Member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]

# Any English word of a reason template left in a "translated" reason means a template is
# missing from loyalty.reasons.TEMPLATES (or its translation from the catalogue).
ENGLISH = re.compile(
    r"\b(points?|for|order|reached|cap|daily|monthly|expired|returned|flagged|fraud|bonus|"
    r"review|product|club|post|visit|Exchanged|spent|more|categories|minimum|already|taken)\b",
    re.IGNORECASE,
)


def _event(client: APIClient, member: Member, key: str, kind: str, **part: Any) -> None:
    body = {
        "id": key,
        "type": kind,
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        **part,
    }
    response = client.post("/api/v1/events/", body, format="json")
    assert response.status_code == 201, response.json()


def _order(number: str, amount: str = "12.50", categories: list[str] | None = None) -> dict:
    return {"number": number, "amount": amount, "currency": "USD", "categories": categories or []}


def test_every_reason_the_ledger_writes_reads_in_chinese(
    api_client: APIClient, member: Member
) -> None:
    today = timezone.now().date()
    Campaign.objects.create(
        name="11.11",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
        bonus_points=3,
    )
    _event(api_client, member, "e1", "order.received", order=_order("SO1", categories=["a"]))
    _event(api_client, member, "e2", "order.received", order=_order("SO2", categories=["b"]))
    _event(api_client, member, "e3", "order.received", order=_order("SO3", amount="1.00"))
    _event(api_client, member, "e4", "order.returned", order={"number": "SO1"})
    _event(api_client, member, "e5", "order.received", order=_order("SO4", amount="10.00"))
    _event(
        api_client,
        member,
        "e6",
        "order.returned",
        order={"number": "SO4"},
        returned_amount="4.00",
    )
    _event(api_client, member, "e7", "order.fraud", order={"number": "SO2"})
    _event(api_client, member, "e8", "review.posted", review={"id": "R1", "product": "P1"})
    _event(api_client, member, "e9", "club.posted", post={"id": "C1"})
    assert points_visit_award(member_id=member.pk) is not None
    redemption = {"id": "x1", "points": 1}
    assert (
        api_client.post(
            f"/api/v1/members/{member.number}/redemptions/", redemption, format="json"
        ).status_code
        == 201
    )
    old = points_award(
        member_id=member.pk,
        points=2,
        reason="2 points for order SO9",
        occurred_at=timezone.now() - timedelta(days=800),
    )
    points_expire_due()
    points_reverse(entry_id=old.pk, reason="order SO9 flagged as fraud")
    points_redeem(member_id=member.pk, points=1, reason="Exchanged for 50 points")

    reasons = set(PointEntry.objects.values_list("reason", flat=True))
    assert len(reasons) >= 14  # every kind of reason above, each written in English
    with translation.override("zh-hans"):
        for reason in reasons:
            shown = localize(reason)
            assert not ENGLISH.search(shown), f"{reason!r} is shown as {shown!r}"
    with translation.override("en"):
        assert all(localize(reason) == reason for reason in reasons)


def test_parts_are_translated_and_specific_templates_win() -> None:
    with translation.override("zh-hans"):
        assert localize("5 points for order SO-1042") == "订单 SO-1042：获得 5 积分"
        partly = localize("2 points for order SO-2 (daily shopping cap of 5 reached)")
        assert "SO-2" in partly and "购物" in partly and not ENGLISH.search(partly)
        assert localize("goodwill after a call") == "goodwill after a call"  # staff free text


def test_a_reason_written_in_chinese_reads_in_english() -> None:
    with translation.override("zh-hans"):
        written = localize("1 point for your visit on 2026-03-01")
    assert written != "1 point for your visit on 2026-03-01"
    with translation.override("en"):
        assert localize(written) == "1 point for your visit on 2026-03-01"


def test_the_points_page_shows_reasons_in_the_members_language(
    client: Client, member: Member
) -> None:
    points_award(member_id=member.pk, points=5, reason="5 points for order SO-7")
    member.language = "zh-hans"
    member.save(update_fields=["language"])
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/me/points/").content.decode()
    assert "订单 SO-7：获得 5 积分" in html
    assert "5 points for order SO-7" not in html
