"""The dashboard's brand-of-the-week, early-access and recommendation cards.

They read the shared showcase snapshot (benefits/showcase.py) and the member's tier from the
account row the points card already fetched: together they add one query to the dashboard
(the member's recent orders, for the recommendations).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

from benefits.engagement.brands import FeaturedOffer, offer_for
from benefits.engagement.recommendations import Recommendations, recommendations_for
from benefits.engagement.sales import SaleWindow, window
from benefits.engagement.showcase import showcase
from core.clock import note_change_at
from loyalty.ledger.selectors import account_state

register = template.Library()

UPCOMING_DAYS = 7


def _tier_id(member: Any) -> int | None:
    return account_state(member)[1] or showcase().base_tier_id


@register.simple_tag
def featured_brand_card(member: Any) -> FeaturedOffer | None:
    return offer_for(showcase().featured, _tier_id(member))


@register.simple_tag
def early_access_card(member: Any) -> dict[str, list[SaleWindow]]:
    """Sales open to the member now, and those opening for them within 7 days."""
    now = timezone.now()
    snapshot = showcase()
    tier_id = _tier_id(member)
    windows = [window(s, snapshot.early_hours(s, tier_id)) for s in snapshot.sales]
    windows = [w for w in windows if w.sale.ends_at > now]
    for w in windows:  # when each one opens, comes within 7 days, ends
        note_change_at(w.opens_at, w.opens_at - timedelta(days=UPCOMING_DAYS), w.sale.ends_at)
    windows.sort(key=lambda w: (w.opens_at, w.sale.pk))
    return {
        "open": [w for w in windows if w.opens_at <= now],
        "soon": [w for w in windows if now < w.opens_at <= now + timedelta(days=UPCOMING_DAYS)],
    }


@register.simple_tag
def recommendations_card(member: Any) -> Recommendations:
    return recommendations_for(member)
