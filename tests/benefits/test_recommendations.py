"""'Recommended for you': ranked by the categories of the last 90 days' received orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from benefits.brands import week_start
from benefits.recommendations import Recommendations, recommendations_for
from benefits.showcase import showcase_invalidate
from loyalty.models import Order, Tier
from members.models import Member
from tests.factories import MemberFactory

from .showcase_factories import (
    BrandFactory,
    FeaturedBrandFactory,
    MemberEventFactory,
    SaleEarlyAccessFactory,
    SaleFactory,
    set_tier,
)

pytestmark = pytest.mark.django_db


def order(
    member: Member, number: str, categories: list[str], days_ago: float, **extra: Any
) -> Order:
    return Order.objects.create(
        number=number,
        member=member,
        amount=Decimal("20.00"),
        currency="USD",
        categories=categories,
        received_at=timezone.now() - timedelta(days=days_ago),
        **extra,
    )


def picks(recs: Recommendations) -> list[tuple[str, str, str]]:
    return [
        (r.kind, getattr(r.item, "name", None) or getattr(r.item, "title", ""), r.reason)
        for r in recs.brands + recs.events
    ]


@pytest.fixture
def catalogue(ladder: dict[str, Tier]) -> dict[str, Any]:
    brands = {
        "stride": BrandFactory(name="Stride", categories="shoes, sports"),
        "acme": BrandFactory(name="Acme", categories="bags"),
        "bolt": BrandFactory(name="Bolt", categories="electronics"),
        "zen": BrandFactory(name="Zen", categories="shoes"),
        "old": BrandFactory(name="Old", categories="shoes", active=False),
    }
    soon = timezone.now() + timedelta(days=3)
    events = {
        "run": MemberEventFactory(
            title="Run club", host_brand=brands["stride"], starts_at=soon + timedelta(days=5)
        ),
        "gadget": MemberEventFactory(
            title="Gadget night", host_brand=brands["bolt"], starts_at=soon
        ),
        "vip": MemberEventFactory(
            title="Diamond shoe dinner", host_brand=brands["zen"], tiers=[ladder["diamond"]]
        ),
        "open": MemberEventFactory(title="Open house", starts_at=soon + timedelta(days=1)),
    }
    return {"brands": brands, "events": events}


def test_ranked_by_the_categories_of_recent_orders(
    member: Member, catalogue: dict[str, Any]
) -> None:
    order(member, "A", ["shoes", "sports"], 3)
    order(member, "B", ["Shoes"], 10)
    order(member, "C", ["bags"], 80)
    order(member, "D", ["electronics"], 91)  # outside the 90 days
    order(member, "E", ["electronics"], 5, fraud=True)  # fraud does not count
    order(member, "F", ["electronics"], 6, returned_amount=Decimal("20.00"))  # fully returned
    recs = recommendations_for(member)
    assert picks(recs) == [
        ("brand", "Stride", "because you bought shoes"),  # shoes 2 + sports 1
        ("brand", "Zen", "because you bought shoes"),  # shoes 2
        ("brand", "Acme", "because you bought bags"),  # bags 1
        ("event", "Run club", "because you bought shoes"),
        ("event", "Gadget night", "Coming up soon"),  # defaults fill up, soonest first
        ("event", "Open house", "Coming up soon"),
    ]
    assert recs.personal is True
    assert [r.score for r in recs.brands] == [3, 2, 1]
    # deterministic: the same answer again
    showcase_invalidate()
    assert picks(recommendations_for(member)) == picks(recs)


def test_default_with_no_history(member: Member, catalogue: dict[str, Any]) -> None:
    featured = FeaturedBrandFactory(
        brand=catalogue["brands"]["zen"], week_start=week_start(timezone.now().date())
    )
    assert featured.pk
    order(MemberFactory(), "OTHER", ["bags"], 1)  # someone else's history changes nothing
    recs = recommendations_for(member)
    assert picks(recs) == [
        ("brand", "Zen", "Brand of the week"),
        ("brand", "Acme", "Something new to discover"),
        ("brand", "Bolt", "Something new to discover"),
        ("event", "Gadget night", "Coming up soon"),
        ("event", "Open house", "Coming up soon"),
        ("event", "Run club", "Coming up soon"),
    ]
    assert recs.personal is False
    showcase_invalidate()
    assert picks(recommendations_for(member)) == picks(recs)


def test_events_only_for_the_members_tier(
    member: Member, catalogue: dict[str, Any], ladder: dict[str, Tier]
) -> None:
    order(member, "A", ["shoes"], 1)
    standard = [p for p in picks(recommendations_for(member)) if p[0] == "event"]
    assert ("event", "Diamond shoe dinner", "because you bought shoes") not in standard
    diamond = MemberFactory()
    set_tier(diamond, ladder["diamond"])
    order(diamond, "B", ["shoes"], 1)
    events = [p for p in picks(recommendations_for(diamond)) if p[0] == "event"]
    assert events[:2] == [
        ("event", "Run club", "because you bought shoes"),
        ("event", "Diamond shoe dinner", "because you bought shoes"),
    ]


def test_dashboard_card_shows_the_reasons(member: Member, catalogue: dict[str, Any]) -> None:
    order(member, "A", ["shoes"], 2)
    client = Client()
    client.force_login(member)
    html = client.get("/me/").content.decode()
    assert (
        'data-testid="recommended-brand">Stride <span class="help">— because you bought shoes'
        in html
    )
    assert "Run club</a>" in html


def test_dashboard_with_every_card_runs_constant_queries(
    member: Member,
    catalogue: dict[str, Any],
    ladder: dict[str, Tier],
    django_assert_max_num_queries: Any,
) -> None:
    client = Client()
    client.force_login(member)
    client.get("/me/")  # the day's visit point and the showcase snapshot: not measured
    with django_assert_max_num_queries(8) as few:
        client.get("/me/")
    set_tier(member, ladder["gold"])
    featured = FeaturedBrandFactory(
        week_start=week_start(timezone.now().date()), brand=catalogue["brands"]["acme"]
    )
    for n in range(5):
        sale = SaleFactory(public_start_at=timezone.now() + timedelta(hours=n))
        SaleEarlyAccessFactory(sale=sale, tier=ladder["gold"], hours=24)
        MemberEventFactory(host_brand=catalogue["brands"]["bolt"])
    for n in range(40):
        order(member, f"SO-{n}", ["shoes", f"c{n}"], n % 80)
    showcase_invalidate()
    client.get("/me/")  # rebuilds the snapshot
    with django_assert_max_num_queries(8) as many:
        html = client.get("/me/").content.decode()
    assert featured.brand.name in html
    assert html.count('data-testid="sale-open"') == 5
    assert html.count('data-testid="recommended-brand"') == 3
    assert len(many.captured_queries) == len(few.captured_queries)
