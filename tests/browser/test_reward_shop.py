"""A member exchanges points for a coupon in the reward shop and finds it in the wallet."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from benefits.catalogue.models import Reward
from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from loyalty.ledger.models import Account
from loyalty.ledger.services import points_award
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_exchange_points_for_a_coupon_and_find_it_in_the_wallet(live_server, page, shoot) -> None:
    member = MemberFactory(email="saver@example.com")
    points_award(member_id=member.pk, points=650, reason="Orders")
    template = CouponTemplate.objects.create(
        code="points-5-off",
        name="5.00 off for points",
        kind="amount_off",
        value=Decimal("5.00"),
        min_order=Decimal("20.00"),
        valid_days=30,
        occasion=Occasion.POINTS_EXCHANGE,
        description="Enter the code at checkout.",
    )
    reward = Reward.objects.create(
        name="5.00 off coupon", kind="coupon", points=500, coupon_template=template
    )
    Reward.objects.create(name="Tote bag", kind="merchandise", points=1500, stock=3)

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/me/$"))

    page.get_by_role("link", name="Rewards", exact=True).click()
    page.wait_for_url(re.compile(r"/me/rewards/$"))
    assert page.get_by_test_id("rewards-balance").inner_text() == "650"  # no visit rule loaded
    assert "You need" in page.get_by_test_id("reward-why-not").inner_text()
    shoot(page, "reward-shop")
    page.get_by_role("button", name="Exchange for 5.00 off coupon").click()
    page.wait_for_url(re.compile(r"/me/rewards/$"))

    coupon = Coupon.objects.get(member=member)
    assert (
        f"Your coupon {coupon.code} is in your wallet." in page.get_by_role("status").inner_text()
    )
    assert page.get_by_test_id("rewards-balance").inner_text() == "150"
    assert Account.objects.get(member=member).balance == 150
    assert reward.exchanges.count() == 1

    page.get_by_role("link", name="Coupons", exact=True).click()
    page.wait_for_url(re.compile(r"/me/coupons/$"))
    assert page.get_by_test_id("coupon-code").inner_text() == coupon.code
    assert "5.00 off for points" in page.get_by_test_id("coupon").inner_text()
    shoot(page, "reward-coupon-in-wallet")
