"""allauth flows, driven through the real views: sign-up, verification, login, rate limits."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from members.models import Member

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"


def _link(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", body)
    assert match, body
    return match.group(1)


def test_signup_requires_verification_then_logs_in(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    member = Member.objects.get(email="newbie@example.com")
    assert len(mail.outbox) == 1
    # Not verified yet: the member center is closed.
    assert client.get("/me/").status_code == 302

    confirm_url = _link(mail.outbox[0].body)
    assert client.get(confirm_url).status_code == 200
    response = client.post(confirm_url)
    assert response.status_code == 302
    dashboard = client.get("/me/")
    assert dashboard.status_code == 200
    assert member.number in dashboard.content.decode()


def test_duplicate_email_signup_creates_nothing_and_tells_the_owner(
    client: Client, member: Member
) -> None:
    """allauth prevents account enumeration: the form answers as for a new address, but no
    account is created and the address's owner is told by email that they already have one."""
    response = client.post(
        "/accounts/signup/",
        {"email": member.email.upper(), "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert Member.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [member.email]
    assert "already" in mail.outbox[0].body.lower()


def test_signup_password_mismatch_is_shown_beside_the_field(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    field_at = html.index('id="id_password2"')
    error_at = html.index('id="id_password2_error"')
    assert 0 < error_at - field_at < 800
    assert 'value="x@example.com"' in html
    assert not Member.objects.exists()


def test_session_key_changes_at_login(client: Client, member: Member) -> None:
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    response = client.post(
        "/accounts/login/", {"login": member.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.get("/me/").status_code == 200


def test_failed_logins_are_rate_limited(client: Client, member: Member) -> None:
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": member.email, "password": "wrong"})
        assert "Too many failed login attempts" not in response.content.decode()
    # The sixth attempt is refused, even with the right password, and nobody is logged in.
    response = client.post(
        "/accounts/login/", {"login": member.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/me/").status_code == 302


def test_admin_login_goes_through_allauth(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_admin_is_staff_only(client: Client, member: Member) -> None:
    client.force_login(member)
    response = client.get("/admin/members/member/")
    assert response.status_code == 302


def test_staff_can_search_members_by_number(client: Client, member: Member, make_member) -> None:
    staff = make_member(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get("/admin/members/member/", {"q": member.number})
    assert response.status_code == 200
    assert member.email in response.content.decode()


def test_mfa_pages_are_in_the_member_layout(client: Client, member: Member) -> None:
    client.force_login(member)
    response = client.get("/accounts/2fa/")
    assert response.status_code == 200
    assert 'class="member-nav"' in response.content.decode()


def test_password_reset_sends_a_link(client: Client, member: Member) -> None:
    response = client.post("/accounts/password/reset/", {"email": member.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
