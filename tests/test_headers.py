"""Security headers (core/headers.py): the Content-Security-Policy, the Permissions-Policy,
`Cache-Control: private, no-store` on what is personal; no inline script or style in the
pages; messages kept in the session, not in a cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from loyalty.program.presets import loaders
from members.models import Member

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle=", re.I),
    re.compile(r"\son[a-z]+=", re.I),
    re.compile(r"javascript:", re.I),
]


def _inline(html: str) -> list[str]:
    return [match.group(0) for pattern in INLINE for match in pattern.finditer(html)]


def test_every_page_has_the_policy_and_a_visitors_public_page_may_be_cached(
    client: Client,
) -> None:
    response = client.get("/accounts/login/")
    assert response["Content-Security-Policy"] == POLICY
    assert response["Permissions-Policy"] == (
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=()"
    )
    assert response["Cache-Control"] == "private, no-store"  # /accounts/: personal
    home = client.get("/")
    assert home["Content-Security-Policy"] == POLICY
    assert "no-store" not in home.get("Cache-Control", "")


def test_member_pages_and_api_answers_are_never_stored(
    client: Client, member: Member, api_client: APIClient
) -> None:
    for load in loaders():
        load("aliexpress")
    client.force_login(member)
    for url in ["/", "/me/", "/me/tier/", "/me/coupons/", "/me/benefits/", "/accounts/email/"]:
        response = client.get(url)
        assert response["Cache-Control"] == "private, no-store", url
    answer = api_client.get(f"/api/v1/members/{member.number}/")
    assert answer.status_code == 200
    assert answer["Cache-Control"] == "private, no-store"
    assert answer["Content-Security-Policy"] == POLICY
    refused = APIClient().get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused["Cache-Control"] == "private, no-store"


def test_member_pages_have_no_inline_script_or_style(client: Client, member: Member) -> None:
    for load in loaders():
        load("aliexpress")
    client.force_login(member)
    for url in ["/me/", "/me/tier/", "/me/points/", "/me/coupons/", "/me/benefits/"]:
        html = client.get(url).content.decode()
        assert _inline(html) == [], url
    assert 'data-badge-colour="#' in client.get("/me/tier/").content.decode()


def test_admin_pages_of_the_project_have_no_inline_style(admin_client: Client) -> None:
    for load in loaders():
        load("aliexpress")
    for url in ["/admin/benefits/benefit/matrix/", "/admin/members/apikey/"]:
        html = admin_client.get(url).content.decode()
        assert re.findall(r"\sstyle=\"[^\"]*(?:width: \d|color:#)", html) == [], url


def test_the_api_docs_start_from_a_static_script_under_their_own_policy(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert 'src="/static/js/api-docs.js"' in html
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline';" in policy


def test_the_signed_in_message_is_kept_in_the_session_not_in_a_cookie(
    client: Client, member: Member, settings: Any
) -> None:
    response = client.post(
        "/accounts/login/", {"login": member.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert "messages" not in response.cookies
    for morsel in response.cookies.values():
        assert member.email not in morsel.value
        assert member.number not in morsel.value
