"""Reads of a member's tier: the history of changes and the status with its forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import (
    Case,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from core.clock import add_months, day_bounds, month_end, program_today
from loyalty.ledger.models import PointEntry
from loyalty.ledger.selectors import member_account
from loyalty.program.models import Program, Tier
from loyalty.program.selectors import cached_ladder
from loyalty.tiers.models import TierChange
from members.models import Member


def member_tier_history(member: Member) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-period", "-created_at", "-pk")
    )


@dataclass(frozen=True)
class TierStatus:
    """What a member sees of their tier: the official tier and a live forecast.

    `qualifying_points` count up to the end of today (program time zone); `leaving` of them
    drop out of the window at the next evaluation (the end of this month); `projected` is what
    that evaluation counts if the member earns nothing more.
    """

    ladder: list[Tier]
    tier: Tier | None
    tier_effective_on: date | None
    qualifying_points: int
    next_tier: Tier | None
    points_to_next_tier: int | None
    progress_percent: int
    next_evaluation: date
    leaving: int
    projected: int
    needed_for_next: int | None
    needed_to_keep: int

    @property
    def keeps_tier(self) -> bool:
        return self.needed_to_keep == 0


def member_tier_status(member: Member) -> TierStatus:
    """The member's tier and forecast in two queries (account, one aggregate) and the
    cached ladder."""
    program = Program.load()
    ladder = cached_ladder()
    account = member_account(member)
    tier_id = account.tier_id if account is not None else None
    tier = next((t for t in ladder if t.pk == tier_id), None) or next(
        (t for t in ladder if t.min_points == 0), None
    )
    today = program_today()
    end = day_bounds(today + timedelta(days=1))[0]
    start = day_bounds(add_months(today + timedelta(days=1), -program.qualifying_window_months))[0]
    evaluation = month_end(today)
    next_start = day_bounds(
        add_months(evaluation + timedelta(days=1), -program.qualifying_window_months)
    )[0]
    counted = Q(qualifying_at__gte=start, qualifying_at__lt=end, occurred_at__lt=end)
    sums = PointEntry.objects.filter(member_id=member.pk, qualifying_at__gte=start).aggregate(
        current=Sum(
            Case(When(counted, then="points"), default=Value(0), output_field=IntegerField())
        ),
        leaving=Sum(
            Case(
                When(counted & Q(qualifying_at__lt=next_start), then="points"),
                default=Value(0),
                output_field=IntegerField(),
            )
        ),
    )
    current, leaving = int(sums["current"] or 0), int(sums["leaving"] or 0)
    projected = current - leaving
    next_tier = None
    if tier is not None:
        next_tier = next((t for t in ladder if t.rank > tier.rank), None)
    progress = 100
    if tier is not None and next_tier is not None:
        span = next_tier.min_points - tier.min_points
        progress = max(0, min(100, (current - tier.min_points) * 100 // span))
    return TierStatus(
        ladder=ladder,
        tier=tier,
        tier_effective_on=account.tier_effective_on if account is not None else None,
        qualifying_points=current,
        next_tier=next_tier,
        points_to_next_tier=(
            max(0, next_tier.min_points - current) if next_tier is not None else None
        ),
        progress_percent=progress,
        next_evaluation=evaluation,
        leaving=leaving,
        projected=projected,
        needed_for_next=(
            max(0, next_tier.min_points - projected) if next_tier is not None else None
        ),
        needed_to_keep=max(0, tier.min_points - projected) if tier is not None else 0,
    )
