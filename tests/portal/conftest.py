from __future__ import annotations

from typing import Any

import pytest

from loyalty.program.presets import loaders


@pytest.fixture
def program(db: Any) -> None:
    """The aliexpress preset: tiers and the default earning rules."""
    for load in loaders():
        load("aliexpress")
