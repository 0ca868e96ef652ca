from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from core.clock import program_today
from members.models import Member

pytestmark = pytest.mark.django_db


def test_home_is_public(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"Join for free" in response.content


def test_member_center_requires_login(client: Client) -> None:
    response = client.get("/me/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_dashboard_shows_number_member_since_and_completeness(
    client: Client, member: Member
) -> None:
    client.force_login(member)
    response = client.get("/me/")
    html = response.content.decode()
    assert member.number in html
    assert "67% complete" in html  # name and verified email, but no birthday
    assert "add your birthday" in html


def test_profile_saves_and_shows_errors_beside_the_field(client: Client, member: Member) -> None:
    client.force_login(member)
    ok = client.post(
        "/me/profile/",
        {"name": "Ann Lee", "birthday": "1990-05-17", "language": "en"},
    )
    assert ok.status_code == 302
    member.refresh_from_db()
    assert (member.name, member.birthday) == ("Ann Lee", date(1990, 5, 17))
    assert member.birthday_set_on == program_today()

    refused = client.post(
        "/me/profile/",
        {"name": "Ann Changed", "birthday": "1991-01-01", "language": "en"},
    )
    assert refused.status_code == 200
    html = refused.content.decode()
    field_start = html.index('id="id_birthday"')
    error_at = html.index("once a year")
    assert 0 < error_at - field_start < 800  # the error sits right beside the birthday input
    assert 'value="Ann Changed"' in html  # the form keeps what was typed
    member.refresh_from_db()
    assert (member.name, member.birthday) == ("Ann Lee", date(1990, 5, 17))


def test_profile_bad_date_is_an_error_beside_the_field(client: Client, member: Member) -> None:
    client.force_login(member)
    response = client.post("/me/profile/", {"name": "", "birthday": "31/31/1990", "language": "en"})
    assert response.status_code == 200
    assert 'id="id_birthday_error"' in response.content.decode()
    member.refresh_from_db()
    assert member.birthday is None


def test_post_without_csrf_token_is_refused(member: Member) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/me/profile/", {"name": "Mallory", "language": "en"})
    assert response.status_code == 403
    assert Member.objects.get(pk=member.pk).name != "Mallory"


def test_changing_language_sets_a_cookie(client: Client, member: Member) -> None:
    client.force_login(member)
    response = client.post("/me/profile/", {"name": "A", "language": "zh-hans"})
    assert response.cookies["django_language"].value == "zh-hans"
    member.refresh_from_db()
    assert member.language == Member.Language.CHINESE
