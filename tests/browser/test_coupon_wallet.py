"""A member opens the coupon wallet, copies a code with the mouse and with the keyboard, and
the clipboard holds exactly that code."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from benefits.coupons.models import Coupon, CouponTemplate
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_copy_a_coupon_code(live_server, browser, shoot) -> None:
    member = MemberFactory(email="shopper@example.com")
    template = CouponTemplate.objects.create(
        code="birthday",
        name="Birthday coupon",
        kind="amount_off",
        value=Decimal("5.00"),
        min_order=Decimal("10.00"),
        valid_days=30,
        occasion="birthday",
        description="Enter the code at checkout.",
    )
    now = timezone.now()
    coupon = Coupon.objects.create(
        member=member,
        template=template,
        occasion="birthday",
        period=now.date().replace(month=1, day=1),
        valid_from=now - timedelta(hours=1),
        valid_until=now + timedelta(days=5),
        reason=f"Birthday {now.year}",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Email").fill(member.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(re.compile(r"/me/$"))
        # The dashboard warns that the coupon ends within 7 days.
        assert coupon.code in page.get_by_test_id("expiring-coupons").inner_text()

        page.get_by_role("link", name="Coupons", exact=True).click()
        page.wait_for_url(re.compile(r"/me/coupons/$"))
        assert page.get_by_test_id("coupon-code").inner_text() == coupon.code
        button = page.get_by_role("button", name="Copy code")
        button.click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == coupon.code
        shoot(page, "coupon-wallet-copied")

        # The keyboard: clear the clipboard, focus the button, press Enter.
        page.evaluate("navigator.clipboard.writeText('')")
        copy = page.get_by_role("button", name="Copy code")
        expect(copy).to_be_visible(timeout=10_000)  # the label returns to "Copy code"
        copy.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == coupon.code

        page.set_viewport_size({"width": 375, "height": 812})
        shoot(page, "coupon-wallet-phone")
    finally:
        context.close()


def test_without_javascript_the_code_is_plain_text(live_server, browser) -> None:
    member = MemberFactory(email="nojs@example.com")
    template = CouponTemplate.objects.create(
        code="t",
        name="Gift",
        kind="amount_off",
        value=Decimal("2"),
        valid_days=3,
        occasion="manual",
    )
    now = timezone.now()
    coupon = Coupon.objects.create(
        member=member,
        template=template,
        occasion="manual",
        valid_from=now,
        valid_until=now + timedelta(days=3),
        reason="Gift",
    )
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Email").fill(member.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.goto(live_server.url + "/me/coupons/")
        assert page.get_by_test_id("coupon-code").inner_text() == coupon.code
        assert page.get_by_role("button", name="Copy code").count() == 0  # hidden without JS
    finally:
        context.close()
