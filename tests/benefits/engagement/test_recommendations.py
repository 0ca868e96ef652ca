"""'Recommended for you': ranked by the categories of the last 90 days' received orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from benefits.catalogue.models import Reward
from benefits.catalogue.presets import load as load_catalogue
from benefits.coupons.models import CouponTemplate, Occasion
from benefits.engagement.brands import week_start
from benefits.engagement.recommendations import Recommendations, recommendations_for
from benefits.engagement.showcase import showcase
from core.cache import forget
from loyalty.earning.models import Order
from loyalty.ledger.services import points_award
from loyalty.program.models import Program, Tier
from members.models import Member
from tests.benefits.engagement.factories import (
    BrandFactory,
    FeaturedBrandFactory,
    MemberEventFactory,
    SaleEarlyAccessFactory,
    SaleFactory,
    set_tier,
)
from tests.factories import MemberFactory, dashboard_render_forced

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
        for r in recs.brands + recs.rewards + recs.events
    ]


def reward_picks(member: Member) -> list[tuple[str, int, str]]:
    """(name, price, reason) of the member's recommended rewards, read afresh."""
    member.__dict__.pop("_loyalty_account", None)  # the balance as it is now
    return [
        (r.item.name, r.item.points, r.reason)  # type: ignore[union-attr]
        for r in recommendations_for(member).rewards
    ]


def item(name: str, points: int, categories: str = "", **extra: Any) -> Reward:
    """A merchandise reward (stock 5 unless given)."""
    tiers = extra.pop("tiers", None)
    extra.setdefault("stock", 5)
    reward = Reward.objects.create(
        name=name, kind="merchandise", points=points, categories=categories, **extra
    )
    if tiers:
        reward.eligible_tiers.set(tiers)
    return reward


def coupon(name: str, points: int, categories: str = "") -> Reward:
    template = CouponTemplate.objects.create(
        code=f"exchange-{points}",
        name=name,
        occasion=Occasion.POINTS_EXCHANGE,
        kind="amount_off",
        value=Decimal("5.00"),
        valid_days=30,
    )
    return Reward.objects.create(
        name=name, kind="coupon", points=points, coupon_template=template, categories=categories
    )


def funded(points: int) -> Member:
    member = MemberFactory()
    points_award(member_id=member.pk, points=points, reason="test")
    return member


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


def snapshot_dropped() -> None:
    """The next read builds the showcase anew (nothing kept in this process or the cache)."""
    cache.clear()
    forget()


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
    snapshot_dropped()
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
    snapshot_dropped()
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
    # The program settings row exists (load_program makes it; a first page would otherwise
    # create it and so move the program's page version, missing the cache once more).
    Program.load()
    client = Client()
    client.force_login(member)
    client.get("/me/")  # the day's visit point and the showcase snapshot: not measured
    dashboard_render_forced(member)  # measure the render of the cards, not the cached ones
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
    for n in range(30):
        reward = item(f"Reward {n}", 100 + n, f"shoes, c{n}")
        reward.eligible_tiers.set([ladder["gold"], ladder["diamond"]] if n % 2 else [])
    client.get("/me/")  # rebuilds the snapshot (the writes moved its version)
    dashboard_render_forced(member)
    with django_assert_max_num_queries(8) as many:
        html = client.get("/me/").content.decode()
    assert featured.brand.name in html
    assert html.count('data-testid="sale-open"') == 5
    assert html.count('data-testid="recommended-brand"') == 3
    assert html.count('data-testid="recommended-reward"') == 3
    assert len(many.captured_queries) == len(few.captured_queries)


# --- rewards ----------------------------------------------------------------------------------


@pytest.fixture
def rewards(ladder: dict[str, Tier]) -> dict[str, Reward]:
    return {
        "socks": item("Running socks", 200, "Shoes, sports"),
        "cleaner": item("Shoe cleaner", 300, "shoes"),
        "tote": item("Tote bag", 1500, "bags"),
        "cap": item("Sports cap", 100, "sports"),
        "coupon": coupon("5.00 off coupon", 500),
        "scarf": item("Gold scarf", 50, "shoes, sports", tiers=[ladder["gold"], ladder["diamond"]]),
        "sold_out": item("Sold-out sneakers", 10, "shoes", stock=0),
        "retired": item("Retired insoles", 10, "shoes", active=False),
    }


def test_rewards_ranked_by_the_categories_of_recent_orders(
    member: Member, rewards: dict[str, Reward]
) -> None:
    order(member, "A", ["shoes", "sports"], 3)
    order(member, "B", ["shoes"], 10)
    order(member, "C", ["bags"], 40)
    order(member, "D", ["bags"], 95)  # outside the 90 days
    recs = recommendations_for(member)
    # shoes 2, sports 1, bags 1: socks 3, cleaner 2, then cap and tote 1 each (cheaper first)
    assert [(r.item.name, r.reason, r.score) for r in recs.rewards] == [
        ("Running socks", "because you bought shoes", 3),
        ("Shoe cleaner", "because you bought shoes", 2),
        ("Sports cap", "because you bought sports", 1),
    ]
    assert recs.personal is True
    # the reason is the heaviest category: bags outweighs sports for this member
    order(member, "E", ["bags"], 1)
    assert reward_picks(member) == [
        ("Running socks", 200, "because you bought shoes"),
        ("Shoe cleaner", 300, "because you bought shoes"),
        ("Tote bag", 1500, "because you bought bags"),
    ]


def test_rewards_only_for_the_members_tier_active_and_in_stock(
    member: Member, rewards: dict[str, Reward], ladder: dict[str, Tier]
) -> None:
    order(member, "A", ["shoes", "sports"], 1)
    order(member, "B", ["shoes"], 2)
    standard = reward_picks(member)
    assert standard == [
        ("Running socks", 200, "because you bought shoes"),
        ("Shoe cleaner", 300, "because you bought shoes"),
        ("Sports cap", 100, "because you bought sports"),
    ]
    gold = MemberFactory()
    set_tier(gold, ladder["gold"])
    order(gold, "C", ["shoes", "sports"], 1)
    order(gold, "D", ["shoes"], 2)
    # the gold scarf scores 3 like the socks and is cheaper; sold-out and inactive never show
    assert reward_picks(gold) == [
        ("Gold scarf", 50, "because you bought shoes"),
        ("Running socks", 200, "because you bought shoes"),
        ("Shoe cleaner", 300, "because you bought shoes"),
    ]


def test_rewards_default_to_what_the_member_can_afford(
    rewards: dict[str, Reward], ladder: dict[str, Tier]
) -> None:
    rich = funded(600)
    order(MemberFactory(), "OTHER", ["shoes"], 1)  # someone else's history changes nothing
    recs = recommendations_for(rich)
    assert [(r.item.name, r.reason, r.score) for r in recs.rewards] == [
        ("Sports cap", "You can afford this", 0),
        ("Running socks", "You can afford this", 0),
        ("Shoe cleaner", "You can afford this", 0),
    ]
    assert recs.personal is False
    assert reward_picks(funded(250)) == [
        ("Sports cap", 100, "You can afford this"),
        ("Running socks", 200, "You can afford this"),
    ]
    assert reward_picks(MemberFactory()) == []  # nothing affordable: no default
    # a match first, then what the member can afford fills up (the match is not repeated)
    order(rich, "A", ["bags"], 2)
    assert reward_picks(rich) == [
        ("Tote bag", 1500, "because you bought bags"),
        ("Sports cap", 100, "You can afford this"),
        ("Running socks", 200, "You can afford this"),
    ]


def test_reward_ties_go_by_price_then_id_and_repeat_exactly(
    member: Member, ladder: dict[str, Tier]
) -> None:
    later = item("B second", 100, "hats")
    first = item("A first", 100, "hats")  # same price: the lower id wins, not the name
    cheap = item("C cheap", 90, "hats")
    assert later.pk < first.pk
    order(member, "A", ["hats"], 1)
    expected = [
        ("C cheap", 90, "because you bought hats"),
        ("B second", 100, "because you bought hats"),
        ("A first", 100, "because you bought hats"),
    ]
    assert reward_picks(member) == expected
    snapshot_dropped()
    assert reward_picks(member) == expected
    assert cheap.pk


def test_dashboard_card_links_rewards_with_their_reason(
    member: Member, rewards: dict[str, Reward]
) -> None:
    order(member, "A", ["bags"], 2)
    client = Client()
    client.force_login(member)
    html = client.get("/me/").content.decode()
    tote = rewards["tote"].pk
    assert (
        f'data-testid="recommended-reward"><a href="/me/rewards/#reward-{tote}">Tote bag</a>, '
        '1500 points <span class="help">— because you bought bags</span>' in html
    )
    assert html.count('data-testid="recommended-reward"') == 1  # balance 0: nothing else
    assert f'id="reward-{tote}"' in client.get("/me/rewards/").content.decode()


def test_dashboard_card_in_chinese(rewards: dict[str, Reward]) -> None:
    member = funded(150)
    member.language = "zh-hans"
    member.save()
    client = Client()
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/me/").content.decode()
    assert (
        f'<a href="/me/rewards/#reward-{rewards["cap"].pk}">Sports cap</a>, 100 积分 '
        '<span class="help">— 您的积分足够兑换</span>' in html
    )


def test_admin_reward_edits_reach_the_dashboard_at_once(
    admin_client: Client, rewards: dict[str, Reward]
) -> None:
    member = funded(1000)
    assert [name for name, _p, _r in reward_picks(member)] == [
        "Sports cap",
        "Running socks",
        "Shoe cleaner",
    ]
    cap = rewards["cap"]
    response = admin_client.post(
        f"/admin/benefits/reward/{cap.pk}/change/",
        {
            "name": "Sports cap",
            "description": "",
            "kind": "merchandise",
            "points": "100",
            "stock": "0",
            "categories": "sports, hats",
            "position": "0",
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert Reward.objects.get(pk=cap.pk).categories == "sports, hats"
    assert [name for name, _p, _r in reward_picks(member)] == [
        "Running socks",
        "Shoe cleaner",
        "5.00 off coupon",
    ]
    response = admin_client.post(
        f"/admin/benefits/reward/{rewards['socks'].pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert [name for name, _p, _r in reward_picks(member)] == [
        "Shoe cleaner",
        "5.00 off coupon",
    ]
    # the snapshot holds every active reward, cheapest first; the ranking filters
    assert [r.name for r in showcase().rewards] == [
        "Sold-out sneakers",
        "Gold scarf",
        "Sports cap",
        "Shoe cleaner",
        "5.00 off coupon",
        "Tote bag",
    ]


def test_preset_rewards_get_categories_only_when_created(ladder: dict[str, Tier]) -> None:
    created = load_catalogue("aliexpress")
    assert "reward Member tote bag" in created
    assert dict(Reward.objects.values_list("name", "categories")) == {
        "5.00 off coupon": "",
        "Member tote bag": "bags",
    }
    Reward.objects.filter(name="Member tote bag").update(categories="travel")  # an admin edit
    assert "reward Member tote bag" not in load_catalogue("aliexpress")
    assert Reward.objects.get(name="Member tote bag").categories == "travel"
