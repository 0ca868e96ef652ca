"""The benefit catalogue and the reward shop of the presets (DOMAIN.md, "Benefits by tier").

Loaded by `manage.py load_program NAME` after the coupon templates. Creates only what is
missing (benefits by code, matrix cells by tier and benefit, rewards by name); never changes
what an administrator edited. The level discount and fast-refund numbers are not here: they
are the Tier rows' (loyalty/presets/tiers.py), the matrix reads them from there.

Hours of early access are ours (the issue's example: Gold 24 h, Diamond 48 h).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from benefits.catalogue.models import Benefit, Reward, TierBenefit
from benefits.coupons.models import CouponTemplate, Occasion
from loyalty.program.models import Program, Tier

SILVER_UP = ["silver", "gold", "platinum", "diamond"]
GOLD_UP = ["gold", "platinum", "diamond"]
PLATINUM_UP = ["platinum", "diamond"]
DIAMOND = ["diamond"]
K = Benefit.Kind

BENEFITS: list[dict[str, Any]] = [
    {
        "code": "level-discount",
        "kind": K.LEVEL_DISCOUNT,
        "name": gettext_noop("Level discount"),
        "applies": "{percent}% off products marked Member price at checkout",
    },
    {
        "code": "birthday-coupon",
        "kind": K.BIRTHDAY,
        "name": gettext_noop("Birthday coupon"),
        "applies": "A coupon in your wallet on your birthday (keep your birthday on file "
        "at least 2 days before)",
        "tiers": SILVER_UP,
    },
    {
        "code": "anniversary-coupon",
        "kind": K.ANNIVERSARY,
        "name": gettext_noop("Membership anniversary coupon"),
        "applies": "A coupon in your wallet on the anniversary of your registration",
        "tiers": SILVER_UP,
    },
    {
        "code": "level-up-reward",
        "kind": K.LEVEL_UP,
        "name": gettext_noop("Level-up reward"),
        "applies": "A coupon in your wallet when you are promoted to this tier",
        "tiers": SILVER_UP,
    },
    {
        "code": "brand-of-the-week",
        "kind": K.BRAND_OF_THE_WEEK,
        "name": gettext_noop("Brand of the week"),
        "applies": "An extra discount on the featured brand, shown on your dashboard",
        "tiers": SILVER_UP,
    },
    {
        "code": "member-prices",
        "kind": K.MEMBER_PRICES,
        "name": gettext_noop("Exclusive member prices"),
        "applies": "Member-only prices in promotions, shown on the product page",
        "tiers": GOLD_UP,
    },
    {
        "code": "priority-service",
        "kind": K.PRIORITY_SERVICE,
        "name": gettext_noop("Priority customer service"),
        "applies": "Your questions go first in the customer-service queue",
        "tiers": SILVER_UP,
    },
    {
        "code": "early-access",
        "kind": K.EARLY_ACCESS,
        "name": gettext_noop("Early access to sales"),
        "applies": "Sales open to you {hours} hours before the public",
        "tiers": SILVER_UP,
        "hours": {"silver": 12, "gold": 24, "platinum": 36, "diamond": 48},
    },
    {
        "code": "faster-shipping",
        "kind": K.FASTER_SHIPPING,
        "name": gettext_noop("Faster shipping"),
        "applies": "Faster delivery options at checkout",
        "tiers": GOLD_UP,
    },
    {
        "code": "recommendations",
        "kind": K.RECOMMENDATIONS,
        "name": gettext_noop("Personalised recommendations"),
        "applies": "Brands, rewards and events picked for you on your dashboard",
        "tiers": GOLD_UP,
    },
    {
        "code": "event-invitations",
        "kind": K.EVENT_INVITATIONS,
        "name": gettext_noop("Member-only event invitations"),
        "applies": "Invitations to member events",
        "tiers": GOLD_UP,
    },
    {
        "code": "exclusive-events",
        "kind": K.EXCLUSIVE_EVENTS,
        "name": gettext_noop("Exclusive event benefits"),
        "applies": "Extra benefits at member events",
        "tiers": PLATINUM_UP,
    },
    {
        "code": "fast-refunds",
        "kind": K.FAST_REFUND,
        "name": gettext_noop("Fast refunds"),
        "applies": "Refunds without waiting for the return, on orders up to {limit} {currency}",
    },
    {
        "code": "vip-service",
        "kind": K.VIP_SERVICE,
        "name": gettext_noop("VIP customer service"),
        "applies": "A dedicated VIP customer-service line",
        "tiers": DIAMOND,
    },
    {
        "code": "product-previews",
        "kind": K.PRODUCT_PREVIEWS,
        "name": gettext_noop("Early previews of new products"),
        "applies": "See new products before they are launched",
        "tiers": DIAMOND,
    },
    {
        "code": "partner-events",
        "kind": K.PARTNER_EVENTS,
        "name": gettext_noop("Partner brands' offline events"),
        "applies": "Invitations to partner brands' events in stores",
        "tiers": DIAMOND,
    },
    {
        "code": "daily-coupons",
        "kind": K.DAILY_COUPONS,
        "name": gettext_noop("Limited daily coupons"),
        "applies": "A daily quota of coupons in your wallet, first come, first served",
        "tiers": DIAMOND,
    },
]

EXCHANGE_TEMPLATE: dict[str, Any] = {
    "code": "points-5-off",
    "name": gettext_noop("5.00 off for points"),
    "value": "5.00",
    "min_order": "20.00",
    "valid_days": 30,
}

REWARDS: list[dict[str, Any]] = [
    {
        "name": gettext_noop("5.00 off coupon"),
        "kind": Reward.Kind.COUPON,
        "points": 500,
        "description": "A 5.00 coupon on orders of 20.00 or more, valid for 30 days.",
        "categories": "",  # for every shopper: offered by affordability
    },
    {
        "name": gettext_noop("Member tote bag"),
        "kind": Reward.Kind.MERCHANDISE,
        "points": 1500,
        "stock": 50,
        "description": "Shipped with your next order.",
        "categories": "bags",
        "tiers": GOLD_UP,
    },
]

PRESETS: dict[str, list[dict[str, Any]]] = {"aliexpress": BENEFITS, "tmall": BENEFITS}


def _load_matrix(preset: str, created: list[str]) -> None:
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    for position, spec in enumerate(PRESETS[preset], start=1):
        benefit, made = Benefit.objects.get_or_create(
            code=spec["code"],
            defaults={
                "kind": spec["kind"],
                "name": spec["name"],
                "applies": spec["applies"],
                "position": position * 10,
            },
        )
        if made:
            created.append(f"benefit {benefit.code}")
        if benefit.from_tier:
            continue  # its numbers are the Tier rows'
        included = set(spec.get("tiers", []))
        hours = spec.get("hours", {})
        cells = [
            TierBenefit(
                tier=tier,
                benefit=benefit,
                included=code in included,
                hours=hours.get(code) if code in included else None,
            )
            for code, tier in tiers.items()
        ]
        before = TierBenefit.objects.filter(benefit=benefit).count()
        TierBenefit.objects.bulk_create(cells, ignore_conflicts=True)
        added = TierBenefit.objects.filter(benefit=benefit).count() - before
        if added:
            created.append(f"{added} matrix cell(s) of {benefit.code}")


def _load_rewards(created: list[str]) -> None:
    spec = EXCHANGE_TEMPLATE
    template = CouponTemplate.objects.filter(code=spec["code"]).first()
    if template is None:
        template = CouponTemplate(
            code=spec["code"],
            name=spec["name"],
            description="Enter the code at checkout. One coupon per order.",
            occasion=Occasion.POINTS_EXCHANGE,
            kind=CouponTemplate.Kind.AMOUNT_OFF,
            currency=Program.load().currency,
            value=Decimal(spec["value"]),
            min_order=Decimal(spec["min_order"]),
            valid_days=spec["valid_days"],
        )
        template.full_clean(exclude=["eligible_tiers"])
        template.save()
        created.append(f"coupon template {template.code}")
    for reward_spec in REWARDS:
        if Reward.objects.filter(name=reward_spec["name"]).exists():
            continue
        is_coupon = reward_spec["kind"] == Reward.Kind.COUPON
        reward = Reward.objects.create(
            name=reward_spec["name"],
            kind=reward_spec["kind"],
            points=reward_spec["points"],
            description=reward_spec["description"],
            coupon_template=template if is_coupon else None,
            stock=reward_spec.get("stock"),
            categories=reward_spec.get("categories", ""),  # only on create: admin edits stay
        )
        if reward_spec.get("tiers"):
            reward.eligible_tiers.set(Tier.objects.filter(code__in=reward_spec["tiers"]))
        created.append(f"reward {reward.name}")


@transaction.atomic
def load(preset: str) -> list[str]:
    created: list[str] = []
    _load_matrix(preset, created)
    _load_rewards(created)
    return created
