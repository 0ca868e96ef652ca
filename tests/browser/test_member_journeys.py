"""Journeys in headless Chromium: a newcomer sees the visit point with its reason; a member
with history sees tier progress and the forecast; a member's Chinese sticks across logout
and login. Screenshots at 375x812 and 1280x800 under test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from core.clock import program_today
from loyalty.earning.models import Visit
from loyalty.ledger.services import points_award
from loyalty.program.presets import loaders
from members.models import Member
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase-42"
MEMBER_PASSWORD = "correct-horse-battery"


def _both_sizes(page: Any, shoot: Any, name: str) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    shoot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    shoot(page, f"{name}-desktop")


def _log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/me/$"))


def test_newcomer_sets_a_birthday_and_sees_the_visit_point(
    live_server: Any, page: Any, shoot: Any
) -> None:
    for load in loaders():
        load("aliexpress")
    base = live_server.url
    page.goto(base + "/accounts/signup/")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body)
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/me/$"))
    member = Member.objects.get(email="newcomer@example.com")
    assert Visit.objects.filter(member=member, day=program_today()).count() == 1

    page.get_by_role("link", name="Profile", exact=True).click()
    page.get_by_label("Birthday").fill("1994-08-09")
    page.get_by_role("button", name="Save").click()
    assert "Your profile was saved." in page.content()

    page.get_by_role("link", name="Points", exact=True).click()
    history = page.get_by_test_id("points-history").inner_text()
    assert f"1 point for your visit on {program_today().isoformat()}" in history
    assert page.get_by_test_id("points-balance").inner_text() == "1"
    _both_sizes(page, shoot, "journey-visit-point")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    feed = page.get_by_test_id("feed").inner_text()
    assert "+1: 1 point for your visit on" in feed


def test_member_with_history_sees_tier_progress_and_forecast(
    live_server: Any, page: Any, shoot: Any
) -> None:
    for load in loaders():
        load("aliexpress")
    member = MemberFactory(email="history@example.com")
    now = timezone.now()
    for n in range(8):
        points_award(
            member_id=member.pk,
            points=10,
            reason=f"10 points for order SO-{n}",
            occurred_at=now - timedelta(days=20 * n + 1),
        )
    _log_in(page, live_server.url, member.email, MEMBER_PASSWORD)
    card = page.get_by_test_id("tier-card")
    # 80 qualifying points plus today's visit point
    assert page.get_by_test_id("qualifying-points").inner_text() == "81"
    # not evaluated yet: Standard, with Silver (1 point) already earned
    assert card.get_by_test_id("tier-badge").inner_text() == "Standard"
    bar = card.get_by_role("progressbar")
    assert bar.get_attribute("value") == "100"
    forecast = page.get_by_test_id("tier-forecast").inner_text()
    assert "You reach Silver at the evaluation on" in forecast
    _both_sizes(page, shoot, "journey-tier-progress")
    page.get_by_role("link", name="Tier", exact=True).click()
    assert page.get_by_test_id("tier-ladder").is_visible()


def test_chinese_sticks_across_logout_and_login(live_server: Any, page: Any, shoot: Any) -> None:
    member = MemberFactory(email="zh@example.com")
    _log_in(page, live_server.url, member.email, MEMBER_PASSWORD)
    page.locator("#language-select").select_option("zh-hans")
    page.locator(".language-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="会员首页", exact=True).is_visible()
    member.refresh_from_db()
    assert member.language == "zh-hans"
    page.get_by_role("button", name="退出登录").click()
    page.context.clear_cookies()  # a fresh browser: only the profile remembers
    _log_in(page, live_server.url, member.email, MEMBER_PASSWORD)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.get_by_role("link", name="会员首页", exact=True).is_visible()
    _both_sizes(page, shoot, "journey-chinese")
