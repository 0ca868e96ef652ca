"""The `make run` demo: a member in each tier with a year of history, coupons in every state,
notices in the inbox; idempotent, passwords printed once."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count

from benefits.coupons.models import Coupon
from benefits.engagement.brands import week_start
from benefits.engagement.models import EventRsvp, FeaturedBrand, MemberEvent, SaleEarlyAccess
from core.clock import program_today
from loyalty.ledger.models import Account, PointEntry
from loyalty.tiers.models import TierChange
from members.models import Member
from portal.models import Notice

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


def test_seed_demo_shows_every_tier_and_coupon_state(
    mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    for email in ("admin@example.com", "member@example.com", "diamond@example.com"):
        assert f"{email} / " in printed
    tiers = dict(
        Account.objects.filter(member__email__endswith="@example.com")
        .exclude(member__email__in=["admin@example.com", "member@example.com"])
        .values_list("member__email", "tier__code")
    )
    assert tiers == {
        "standard@example.com": None,  # never evaluated above the base tier
        "silver@example.com": "silver",
        "gold@example.com": "gold",
        "platinum@example.com": "platinum",
        "diamond@example.com": "diamond",
    }
    diamond = Member.objects.get(email="diamond@example.com")
    months = {
        e.occurred_at.strftime("%Y-%m")
        for e in PointEntry.objects.filter(member=diamond, kind="earn")
    }
    assert len(months) == 12
    coupons = Coupon.objects.filter(member=diamond)
    # The year's promotions earned their level-up coupons (through the outbox, dispatched by
    # the demo before it ends); the demo's own coupons show every state.
    assert coupons.filter(occasion="level_up").exists()
    states = dict(
        coupons.exclude(occasion="level_up").values_list("status").annotate(n=Count("id"))
    )
    assert states == {"available": 1, "redeemed": 1, "void": 1, "expired": 1}
    assert TierChange.objects.filter(member=diamond, direction="up").exists()
    assert Notice.objects.filter(member=diamond, kind="tier_changed").exists()
    assert Notice.objects.filter(member=diamond, kind="coupon_issued").count() == coupons.count()
    # The showcase: this week's brand with a discount per tier, an event the diamond member
    # has answered, and a sale with early access.
    featured = FeaturedBrand.objects.get(week_start=week_start(program_today()))
    assert featured.brand.code == "northwind"
    assert featured.discounts.count() == 4
    event = MemberEvent.objects.get(title="Northwind preview night")
    assert list(EventRsvp.objects.filter(event=event).values_list("member__email", flat=True)) == [
        "diamond@example.com"
    ]
    assert SaleEarlyAccess.objects.filter(sale__title="Northwind winter sale").count() == 3
    counts = (
        Member.objects.count(),
        PointEntry.objects.count(),
        Coupon.objects.count(),
        MemberEvent.objects.count(),
        FeaturedBrand.objects.count(),
    )
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "already exist" in again.getvalue()
    assert " / " not in again.getvalue()
    assert (
        Member.objects.count(),
        PointEntry.objects.count(),
        Coupon.objects.count(),
        MemberEvent.objects.count(),
        FeaturedBrand.objects.count(),
    ) == counts
