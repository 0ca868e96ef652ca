"""Reads of the program's settings: the base tier, the ladder (cached under its version) and the overview
that "how points work" shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db.models import (
    QuerySet,
)

from core.cache import Scope, cached
from core.clock import program_today
from loyalty.program.expiry import lot_expiry
from loyalty.program.models import (
    Campaign,
    EarningRule,
    Program,
    Tier,
)

if TYPE_CHECKING:
    pass


def base_tier() -> Tier | None:
    """The tier every member starts in (the one at 0 points)."""
    return next((tier for tier in cached_ladder() if tier.min_points == 0), None)


def tier_ladder() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")


# The ladder as member pages read it: a handful of rows, cached under the ladder's version
# (core.cache; any change of a tier moves it).
LADDER_CACHE_KEY = "loyalty:ladder:v2"


def cached_ladder() -> list[Tier]:
    """The ladder for member pages, cached under the ladder's version (core.cache)."""
    return cached(
        LADDER_CACHE_KEY,
        lambda: list(tier_ladder()),
        scope=Scope.LADDER,
        seconds=60,
        memo=True,
    )


@dataclass(frozen=True)
class ProgramOverview:
    """What "How points work" shows: the live settings, rules, campaigns and ladder."""

    program: Program
    rules: list[EarningRule]
    shared_caps: dict[str, list[str]]
    campaigns: list[Campaign]
    tiers: list[Tier]
    example_expiry: date | None
    today: date


def program_overview() -> ProgramOverview:
    """Three queries (rules, campaigns with their tiers, ladder) plus the cached program."""

    program = Program.load()
    today = program_today()
    rules = list(EarningRule.objects.filter(active=True).order_by("kind"))
    shared: dict[str, list[str]] = {}
    for rule in rules:
        if rule.cap_group:
            shared.setdefault(rule.cap_group, []).append(str(rule.name))
    campaigns = list(
        Campaign.objects.filter(active=True, ends_on__gte=today)
        .order_by("starts_on", "pk")
        .prefetch_related("tiers")[:20]
    )
    return ProgramOverview(
        program=program,
        rules=rules,
        shared_caps={group: names for group, names in shared.items() if len(names) > 1},
        campaigns=campaigns,
        tiers=list(Tier.objects.order_by("rank")),
        example_expiry=lot_expiry(today, program),
        today=today,
    )
