"""The tier ladders of the presets (DOMAIN.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from loyalty.program.models import Tier

LADDERS: dict[str, list[dict[str, Any]]] = {
    "aliexpress": [
        {
            "code": "standard",
            "name": gettext_noop("Standard"),
            "min_points": 0,
            "discount_percent": "0",
            "fast_refund_limit": None,
            "badge_colour": "#6b7280",
        },
        {
            "code": "silver",
            "name": gettext_noop("Silver"),
            "min_points": 1,
            "discount_percent": "5",
            "fast_refund_limit": None,
            "badge_colour": "#64748b",
        },
        {
            "code": "gold",
            "name": gettext_noop("Gold"),
            "min_points": 101,
            "discount_percent": "8",
            "fast_refund_limit": None,
            "badge_colour": "#a16207",
        },
        {
            "code": "platinum",
            "name": gettext_noop("Platinum"),
            "min_points": 501,
            "discount_percent": "10",
            "fast_refund_limit": "24.00",
            "badge_colour": "#0f766e",
        },
        {
            "code": "diamond",
            "name": gettext_noop("Diamond"),
            "min_points": 1501,
            "discount_percent": "15",
            "fast_refund_limit": "100.00",
            "badge_colour": "#1d4ed8",
        },
    ],
}
# Tmall's ladder: Standard, Silver, Gold, Diamond (DOMAIN.md gives no Platinum there).
LADDERS["tmall"] = [tier for tier in LADDERS["aliexpress"] if tier["code"] != "platinum"]


@transaction.atomic
def load(preset: str) -> list[str]:
    """Create the preset's tiers that are missing (by code). Existing tiers are left alone."""
    created = []
    for rank, spec in enumerate(LADDERS[preset], start=1):
        if Tier.objects.filter(code=spec["code"]).exists():
            continue
        refund = spec["fast_refund_limit"]
        Tier.objects.create(
            code=spec["code"],
            name=spec["name"],
            rank=rank,
            min_points=spec["min_points"],
            discount_percent=Decimal(str(spec["discount_percent"])),
            fast_refund_limit=Decimal(str(refund)) if refund is not None else None,
            badge_colour=spec["badge_colour"],
        )
        created.append(f"tier {spec['code']}")
    return created
