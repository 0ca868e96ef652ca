"""Default coupon templates of the presets, one per occasion (DOMAIN.md: Silver and up get
birthday, anniversary and level-up coupons; Diamond gets the limited daily coupons).

Loaded by `manage.py load_program NAME` after the tiers. Creates only what is missing (by
template code); never changes a template an administrator edited.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from benefits.coupons.models import CouponTemplate, Occasion
from loyalty.program.models import Program, Tier

HOW_TO = "Enter the code at checkout. One coupon per order."

_COMMON: list[dict[str, Any]] = [
    {
        "code": "birthday",
        "name": gettext_noop("Birthday coupon"),
        "occasion": Occasion.BIRTHDAY,
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "value": "5.00",
        "min_order": "10.00",
        "valid_days": 30,
        "tiers": ["silver", "gold", "platinum", "diamond"],
    },
    {
        "code": "anniversary",
        "name": gettext_noop("Membership anniversary coupon"),
        "occasion": Occasion.ANNIVERSARY,
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "value": "3.00",
        "min_order": "15.00",
        "valid_days": 30,
        "tiers": ["silver", "gold", "platinum", "diamond"],
    },
    {
        "code": "level-up",
        "name": gettext_noop("Level-up reward"),
        "occasion": Occasion.LEVEL_UP,
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "value": "2.00",
        "min_order": "2.00",
        "valid_days": 30,
        "tiers": ["silver", "gold", "platinum", "diamond"],
    },
    {
        "code": "diamond-daily",
        "name": gettext_noop("Diamond limited daily coupon"),
        "occasion": Occasion.DAILY_QUOTA,
        "kind": CouponTemplate.Kind.PERCENT_OFF,
        "value": "10",
        "min_order": "20.00",
        "valid_days": 1,
        "daily_quota": 100,
        "tiers": ["diamond"],
    },
]

TEMPLATES: dict[str, list[dict[str, Any]]] = {"aliexpress": _COMMON, "tmall": _COMMON}


@transaction.atomic
def load(preset: str) -> list[str]:
    created = []
    currency = Program.load().currency
    for spec in TEMPLATES[preset]:
        if CouponTemplate.objects.filter(code=spec["code"]).exists():
            continue
        template = CouponTemplate(
            code=spec["code"],
            name=spec["name"],
            description=HOW_TO,
            occasion=spec["occasion"],
            kind=spec["kind"],
            currency=currency,
            value=Decimal(spec["value"]),
            min_order=Decimal(spec["min_order"]),
            valid_days=spec["valid_days"],
            daily_quota=spec.get("daily_quota"),
        )
        template.full_clean(exclude=["eligible_tiers"])
        template.save()
        template.eligible_tiers.set(Tier.objects.filter(code__in=spec["tiers"]))
        created.append(f"coupon template {spec['code']}")
    return created
