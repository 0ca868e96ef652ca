"""Staff-managed partner data in the admin: shops (their nickname stored in the compared
form too), the calendar, the program's settings; the records are read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from members.models import Member
from partners.models import CalendarDay, PartnerProgram, Shop

pytestmark = pytest.mark.django_db


def test_an_auditor_adds_a_shop_and_a_holiday(auditor: Member) -> None:
    client = Client()
    client.force_login(auditor)
    response = client.post(
        "/admin/partners/shop/add/",
        {
            "nickname": "ＢＬＵＥ  Lotus　Flagship",
            "owner_company": "Blue Lotus Brand Co",
            "owner_registration_number": "",
            "active": "on",
            "opened_on": "2025-01-01",
            "open_violations": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Shop.objects.get().nickname_key == "blue lotus flagship"
    response = client.post(
        "/admin/partners/calendarday/add/",
        {"day": "2026-12-08", "kind": "holiday", "name": "Staff day"},
    )
    assert response.status_code == 302
    assert CalendarDay.objects.get().kind == "holiday"


def test_the_program_settings_are_not_editable_by_auditors_and_records_are_read_only(
    auditor: Member, admin_client: Any
) -> None:
    PartnerProgram.load()
    client = Client()
    client.force_login(auditor)
    assert client.get("/admin/partners/partnerprogram/1/change/").status_code == 200  # view only
    assert (
        client.post("/admin/partners/partnerprogram/1/change/", {"deposit_amount": "1"}).status_code
        == 403
    )
    assert admin_client.get("/admin/partners/depositentry/add/").status_code == 403
    assert admin_client.get("/admin/partners/auditevent/add/").status_code == 403
