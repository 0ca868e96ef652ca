from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import account_open
from loyalty.program.models import Program, Tier
from loyalty.program.presets import loaders
from loyalty.program.presets import tiers as tier_preset
from members.models import Member
from tests.factories import MemberFactory


@pytest.fixture
def program(db: Any) -> None:
    """The aliexpress preset: tiers and the default earning rules."""
    for load in loaders():
        load("aliexpress")


@pytest.fixture
def ladder(db: Any) -> dict[str, Tier]:
    tier_preset.load("aliexpress")
    return {tier.code: tier for tier in Tier.objects.all()}


@pytest.fixture
def tz_program(db: Any) -> Program:
    """Program settings in a time zone far from UTC (month ends differ from UTC's)."""
    program = Program.load()
    program.time_zone = "Asia/Shanghai"
    program.save()
    return Program.load()


@pytest.fixture
def account_member(db: Any) -> Callable[..., Member]:
    def make(**kwargs: Any) -> Member:
        member = MemberFactory(**kwargs)
        account_open(member_id=member.pk)
        return member

    return make


def earn(
    member: Member,
    points: int,
    at: datetime,
    *,
    occurred_at: datetime | None = None,
    kind: str = "earn",
) -> PointEntry:
    return PointEntry.objects.create(
        member=member,
        kind=kind,
        points=points,
        occurred_at=occurred_at or at,
        qualifying_at=at,
        reason="test",
    )
