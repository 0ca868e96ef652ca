"""Brands and the brand of the week: reads shared by the dashboard, /me/benefits/ and the API.

Staff keep brands and schedule the featured brand of each program-local week (Monday to
Sunday, one per week: a unique constraint) in the admin, with an extra discount per tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Prefetch

from benefits.engagement.models import Brand, FeaturedBrand, FeaturedBrandDiscount
from loyalty.program.models import Tier


def week_start(day: date) -> date:
    """The Monday of the week that contains `day`."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class FeaturedOffer:
    """The brand of a week and the extra discount of one tier on it (None: that tier has none)."""

    featured: FeaturedBrand
    tier: Tier | None
    discount: Decimal | None

    @property
    def brand(self) -> Brand:
        return self.featured.brand

    @property
    def discounts(self) -> list[FeaturedBrandDiscount]:
        """Every tier's discount, up the ladder."""
        return list(self.featured.discounts.all())

    @property
    def best_discount(self) -> FeaturedBrandDiscount | None:
        discounts = self.discounts
        return max(discounts, key=lambda d: (d.percent, d.tier.rank)) if discounts else None


def featured_brands() -> Prefetch:
    """What a featured week needs: its brand and each tier's discount, in ladder order."""
    return Prefetch(
        "discounts",
        queryset=FeaturedBrandDiscount.objects.select_related("tier").order_by("tier__rank"),
    )


def featured_week(day: date) -> FeaturedBrand | None:
    """The featured week that contains `day`, with its brand and discounts (two queries)."""
    return (
        FeaturedBrand.objects.select_related("brand")
        .prefetch_related(featured_brands())
        .filter(week_start=week_start(day))
        .first()
    )


def offer_for(featured: FeaturedBrand | None, tier_id: int | None) -> FeaturedOffer | None:
    """The offer of an already loaded week for one tier (no query)."""
    if featured is None:
        return None
    for discount in featured.discounts.all():
        if discount.tier_id == tier_id:
            return FeaturedOffer(featured, discount.tier, discount.percent)
    return FeaturedOffer(featured, None, None)


def featured_brand_for(day: date, tier: Tier | None) -> FeaturedOffer | None:
    """The brand of the week of `day` and `tier`'s extra discount on it; None if no brand is
    featured that week. For /me/benefits/ and the API."""
    offer = offer_for(featured_week(day), tier.pk if tier is not None else None)
    if offer is not None and offer.tier is None and tier is not None:
        return FeaturedOffer(offer.featured, tier, None)
    return offer
