from __future__ import annotations

from typing import Any

import pytest

from loyalty.program.models import Tier
from loyalty.program.presets.tiers import load as load_tiers


@pytest.fixture
def ladder(db: Any) -> dict[str, Tier]:
    """The AliExpress ladder: standard (base), silver, gold, platinum, diamond."""
    load_tiers("aliexpress")
    return {tier.code: tier for tier in Tier.objects.all()}
