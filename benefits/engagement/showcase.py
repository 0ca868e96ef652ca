"""What the dashboard shows every member alike — this week's featured brand, live sales with
their early access, active brands, upcoming events, active rewards — as one cached snapshot.

The dashboard's cards then cost no query of their own beyond the member's own data (their
tier, shared with the points card, and their recent orders). The snapshot is cached under its own
version (core.cache, `Scope.SHOWCASE`: any change of a brand, a featured week, an event, a sale
or a reward moves it, whoever writes it), at most 60 seconds. Times are compared at render time,
so a sale opens on the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Prefetch
from django.utils import timezone

from benefits.catalogue.models import Reward
from benefits.engagement.brands import featured_week, week_start
from benefits.engagement.models import Brand, FeaturedBrand, MemberEvent, Sale, SaleEarlyAccess
from core.cache import Scope, cached
from core.clock import program_today
from loyalty.program.selectors import base_tier

CACHE_KEY = "benefits:showcase:v3"
CACHE_SECONDS = 60


@dataclass
class Showcase:
    week_start: date
    base_tier_id: int | None
    featured: FeaturedBrand | None
    sales: list[Sale] = field(default_factory=list)
    brands: list[Brand] = field(default_factory=list)
    events: list[MemberEvent] = field(default_factory=list)
    rewards: list[Reward] = field(default_factory=list)

    def event_tier_ids(self, event: MemberEvent) -> set[int]:
        return {tier.pk for tier in event.eligible_tiers.all()}

    def reward_tier_ids(self, reward: Reward) -> set[int]:
        """The tiers that may take the reward (empty: every tier)."""
        return {tier.pk for tier in reward.eligible_tiers.all()}

    def early_hours(self, sale: Sale, tier_id: int | None) -> int | None:
        for access in sale.early_access.all():
            if access.tier_id == tier_id:
                return access.hours
        return None


def _build(today: date, now: datetime) -> Showcase:
    base = base_tier()
    return Showcase(
        week_start=week_start(today),
        base_tier_id=base.pk if base is not None else None,
        featured=featured_week(today),
        sales=list(
            Sale.objects.filter(active=True, ends_at__gt=now)
            .select_related("brand")
            .prefetch_related(Prefetch("early_access", queryset=SaleEarlyAccess.objects.all()))
            .order_by("public_start_at", "pk")
        ),
        brands=list(Brand.objects.filter(active=True).order_by("name", "pk")),
        events=list(
            MemberEvent.objects.filter(published=True, starts_at__gt=now)
            .select_related("host_brand")
            .prefetch_related("eligible_tiers")
            .order_by("starts_at", "pk")
        ),
        rewards=list(
            Reward.objects.filter(active=True)
            .prefetch_related("eligible_tiers")
            .order_by("points", "pk")
        ),
    )


def showcase() -> Showcase:
    """The snapshot for the current program-local week (rebuilt when the week turns)."""
    today = program_today()
    return cached(
        CACHE_KEY,
        lambda: _build(today, timezone.now()),
        scope=Scope.SHOWCASE,
        seconds=CACHE_SECONDS,
        memo=True,
        fresh=lambda snapshot: (
            isinstance(snapshot, Showcase) and snapshot.week_start == week_start(today)
        ),
    )
