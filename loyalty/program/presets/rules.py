"""The earning rules of the presets (DOMAIN.md, AliExpress defaults; Tmall uses the same)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from loyalty.program.models import EarningRule

Kind = EarningRule.Kind
DAY = EarningRule.Period.DAY
MONTH = EarningRule.Period.MONTH

ALIEXPRESS: list[dict[str, Any]] = [
    {
        "kind": Kind.SHOPPING,
        "name": gettext_noop("Shopping"),
        "points": 5,
        "min_amount": Decimal("2.00"),
        "cap": 5,
        "cap_period": DAY,
    },
    {
        "kind": Kind.CATEGORY_BONUS,
        "name": gettext_noop("Category bonus"),
        "points": 1,
        "cap": 3,
        "cap_period": DAY,
    },
    {
        "kind": Kind.REVIEW,
        "name": gettext_noop("Review"),
        "points": 1,
        "cap": 10,
        "cap_period": MONTH,
        "cap_group": "fan",
    },
    {
        "kind": Kind.VISIT,
        "name": gettext_noop("Visit"),
        "points": 1,
        "cap": 10,
        "cap_period": MONTH,
        "cap_group": "fan",
    },
    {
        "kind": Kind.CLUB_POST,
        "name": gettext_noop("Club post"),
        "points": 2,
        "cap": 10,
        "cap_period": MONTH,
    },
]

RULES: dict[str, list[dict[str, Any]]] = {"aliexpress": ALIEXPRESS, "tmall": ALIEXPRESS}


@transaction.atomic
def load(preset: str) -> list[str]:
    """Create the preset's earning rules that are missing (by kind); edited ones stay."""
    created = []
    for spec in RULES[preset]:
        _rule, was_created = EarningRule.objects.get_or_create(
            kind=spec["kind"], defaults={k: v for k, v in spec.items() if k != "kind"}
        )
        if was_created:
            created.append(f"earning rule {spec['kind']}")
    return created
