from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from benefits.coupons.models import Coupon, Occasion
from core.cache import forget
from loyalty.program.models import Program
from members.models import Member
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.factories import MemberFactory, dashboard_render_forced

pytestmark = pytest.mark.django_db


def test_wallet_requires_login(client: Client) -> None:
    response = client.get("/me/coupons/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_wallet_tabs_show_each_coupon_once(client: Client, member: Member) -> None:
    now = timezone.now()
    template = CouponTemplateFactory(name="Birthday coupon", description="One per order.")
    available = CouponFactory(
        member=member,
        template=template,
        reason="Birthday 2026",
        occasion=Occasion.BIRTHDAY,
        period=now.date().replace(month=1, day=1),
    )
    used = CouponFactory(
        member=member, template=template, status="redeemed", redeemed_at=now, order_number="SO-7"
    )
    lapsed = CouponFactory(
        member=member,
        template=template,
        valid_from=now - timedelta(days=40),
        valid_until=now - timedelta(days=1),
    )
    CouponFactory()  # another member's
    client.force_login(member)

    page = client.get("/me/coupons/").content.decode()
    assert available.code in page
    assert used.code not in page and lapsed.code not in page
    assert "Available (1)" in page and "Used (1)" in page and "Expired (1)" in page
    assert "5.00 USD off" in page
    assert "Orders of at least 10.00 USD. One per order." in page
    assert f"Birthday {now.year}" in page
    assert 'data-copy="' + available.code + '"' in page
    assert "Copy code" in page
    assert "js/coupons.js" in page

    used_page = client.get("/me/coupons/?tab=used").content.decode()
    assert used.code in used_page and available.code not in used_page
    assert "order SO-7" in used_page
    assert "data-copy=" not in used_page

    expired_page = client.get("/me/coupons/?tab=expired").content.decode()
    assert lapsed.code in expired_page and available.code not in expired_page


def test_wallet_empty_states(client: Client, member: Member) -> None:
    client.force_login(member)
    for tab, text in [
        ("available", "You have no coupons to use right now."),
        ("used", "You have not used a coupon yet."),
        ("expired", "No expired coupons."),
    ]:
        assert text in client.get(f"/me/coupons/?tab={tab}").content.decode()


def test_wallet_runs_a_constant_number_of_queries(
    client: Client, member: Member, django_assert_max_num_queries, ladder
) -> None:
    CouponTemplateFactory(occasion=Occasion.DAILY_QUOTA, daily_quota=5, tiers=[ladder["standard"]])
    Program.load()  # the settings row exists (migrate + load_program); the cache may be cold
    forget()  # this process reads the versions and the program settings again
    client.force_login(member)
    with django_assert_max_num_queries(8) as few:
        client.get("/me/coupons/")
    template = CouponTemplateFactory()
    for _i in range(20):
        CouponFactory(member=member, template=template)
    forget()  # this process reads the versions and the program settings again
    with django_assert_max_num_queries(8) as many:
        response = client.get("/me/coupons/")
    page = response.content.decode()
    assert page.count('data-testid="coupon"') == 20
    assert "Claim: " in page  # the base tier's daily coupon is offered
    assert len(many.captured_queries) == len(few.captured_queries)


def test_nav_links_the_wallet(client: Client, member: Member) -> None:
    client.force_login(member)
    page = client.get("/me/").content.decode()
    assert 'href="/me/coupons/"' in page


def test_dashboard_lists_coupons_expiring_within_seven_days(client: Client, member: Member) -> None:
    now = timezone.now()
    soon = CouponFactory(member=member, valid_until=now + timedelta(days=6, hours=23))
    later = CouponFactory(member=member, valid_until=now + timedelta(days=8))
    used = CouponFactory(member=member, valid_until=now + timedelta(days=2), status="redeemed")
    client.force_login(member)
    page = client.get("/me/").content.decode()
    assert "Coupons expiring soon" in page
    assert soon.code in page
    assert later.code not in page and used.code not in page


def test_dashboard_empty_state_for_coupons(client: Client, member: Member) -> None:
    client.force_login(member)
    assert "No coupons expire in the next 7 days." in client.get("/me/").content.decode()


# --- the limited daily coupon ---------------------------------------------------------------


def test_claim_a_daily_coupon_from_the_wallet(client: Client, ladder) -> None:
    from loyalty.ledger.models import Account

    diamond = MemberFactory()
    Account.objects.create(member=diamond, tier=ladder["diamond"])
    template = CouponTemplateFactory(
        name="Diamond daily",
        occasion=Occasion.DAILY_QUOTA,
        daily_quota=1,
        tiers=[ladder["diamond"]],
    )
    client.force_login(diamond)
    page = client.get("/me/coupons/").content.decode()
    assert "Claim: Diamond daily" in page
    response = client.post(f"/me/coupons/claim/{template.pk}/", follow=True)
    coupon = Coupon.objects.get()
    assert coupon.member == diamond
    assert f"Your coupon {coupon.code} is in your wallet." in response.content.decode()
    again = client.post(f"/me/coupons/claim/{template.pk}/", follow=True)
    assert "You already claimed this coupon today." in again.content.decode()
    assert Coupon.objects.count() == 1


def test_a_standard_member_does_not_see_or_get_the_diamond_coupon(
    client: Client, member: Member, ladder
) -> None:
    template = CouponTemplateFactory(
        name="Diamond daily",
        occasion=Occasion.DAILY_QUOTA,
        daily_quota=1,
        tiers=[ladder["diamond"]],
    )
    client.force_login(member)
    assert "Claim:" not in client.get("/me/coupons/").content.decode()
    response = client.post(f"/me/coupons/claim/{template.pk}/", follow=True)
    assert "Your tier does not include this coupon." in response.content.decode()
    assert not Coupon.objects.exists()


def test_dashboard_coupon_card_costs_one_query_however_many_coupons(
    client: Client, member: Member, django_assert_max_num_queries
) -> None:
    Program.load()
    client.force_login(member)
    client.get("/me/")  # the day's first visit also writes the visit point; not measured here
    dashboard_render_forced(member)  # measure the render of the cards, not the cached ones
    with django_assert_max_num_queries(8) as few:
        client.get("/me/")
    template = CouponTemplateFactory()
    for _i in range(10):
        CouponFactory(
            member=member, template=template, valid_until=timezone.now() + timedelta(days=3)
        )
    client.get("/me/")  # a new template: the program-wide data is read again once
    dashboard_render_forced(member)
    with django_assert_max_num_queries(8) as many:
        page = client.get("/me/").content.decode()
    assert page.count("5.00 USD off") == 10
    assert len(many.captured_queries) == len(few.captured_queries)
