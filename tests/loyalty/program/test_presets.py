"""`load_program`: the tier ladders of DOMAIN.md, loaded once, never overwriting edits."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from loyalty.program.models import Tier

pytestmark = pytest.mark.django_db


def ladder() -> list[tuple[str, int, int, Decimal, Decimal | None]]:
    return list(
        Tier.objects.order_by("rank").values_list(
            "code", "rank", "min_points", "discount_percent", "fast_refund_limit"
        )
    )


def test_aliexpress_ladder_matches_the_domain_defaults() -> None:
    call_command("load_program", "aliexpress", stdout=StringIO())
    assert ladder() == [
        ("standard", 1, 0, Decimal("0.00"), None),
        ("silver", 2, 1, Decimal("5.00"), None),
        ("gold", 3, 101, Decimal("8.00"), None),
        ("platinum", 4, 501, Decimal("10.00"), Decimal("24.00")),
        ("diamond", 5, 1501, Decimal("15.00"), Decimal("100.00")),
    ]


def test_tmall_ladder_has_no_platinum() -> None:
    call_command("load_program", "tmall", stdout=StringIO())
    assert [row[0] for row in ladder()] == ["standard", "silver", "gold", "diamond"]


def test_loading_again_changes_nothing_and_keeps_edits() -> None:
    call_command("load_program", "aliexpress", stdout=StringIO())
    Tier.objects.filter(code="gold").update(min_points=150)
    out = StringIO()
    call_command("load_program", "aliexpress", stdout=out)
    assert "everything was already loaded" in out.getvalue()
    assert Tier.objects.get(code="gold").min_points == 150
    assert Tier.objects.count() == 5
