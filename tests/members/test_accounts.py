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


def _totp(secret: str, offset: int = 0) -> str:
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2 + offset]))


def test_totp_mfa_can_be_activated_and_is_then_required(client: Client, member: Member) -> None:
    login = {"login": member.email, "password": "correct-horse-battery"}
    assert client.post("/accounts/login/", login).status_code == 302
    # Activating MFA asks for the password again first.
    response = client.get("/accounts/2fa/totp/activate/")
    assert response["Location"].startswith("/accounts/reauthenticate/")
    client.post(response["Location"], {"password": "correct-horse-battery"})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post("/accounts/2fa/totp/activate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert member.authenticator_set.filter(type="totp").exists()

    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", login)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/me/").status_code == 302  # not logged in before the second factor
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    response = client.post("/accounts/2fa/authenticate/", {"code": _totp(secret, offset=-1)})
    assert response.status_code == 302
    assert client.get("/me/").status_code == 200


def test_language_choice_sticks_across_logout_and_login(client: Client, member: Member) -> None:
    login = {"login": member.email, "password": "correct-horse-battery"}
    client.post("/accounts/login/", login)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/me/"})
    member.refresh_from_db()
    assert member.language == "zh-hans"
    client.post("/accounts/logout/")
    # A browser that asks for English still gets the member's choice after logging in again.
    fresh = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = fresh.post("/accounts/login/", login)
    assert response.cookies["django_language"].value == "zh-hans"
    page = fresh.get("/me/")
    assert page.headers["Content-Language"] == "zh-hans"
    assert "会员号" in page.content.decode()  # "Member number", from the Chinese catalogue


@pytest.mark.parametrize("staff", [False, True])
def test_the_admins_logout_link_signs_out_members_and_staff(
    client: Client, member: Member, staff: bool
) -> None:
    if staff:
        Member.objects.filter(pk=member.pk).update(is_staff=True, is_superuser=True)
    client.force_login(member)
    confirm = client.get("/admin/logout/")
    assert confirm.status_code == 200  # asks to confirm; a GET changes nothing
    assert '<form method="post"' in confirm.content.decode()
    assert client.session.get("_auth_user_id") == str(member.pk)
    client.post("/admin/logout/")
    assert "_auth_user_id" not in client.session
    assert client.get("/me/").status_code == 302  # signed out: the dashboard asks to log in
