"""The daily member-center visit point: once per program-local day (the unique visit row
decides), within the visit rule's cap (shared with reviews by default), through the engine."""

from __future__ import annotations

from datetime import date

from django.core.cache import cache
from django.utils import timezone

from core.clock import program_today
from loyalty.earning.models import Visit

from .ingest import events_apply
from .planner import Outcome, VisitMade


def visit_seen_key(member_id: int, today: date) -> str:
    """The cache flag set once the member's visit of `today` is recorded."""
    return f"loyalty:visit:{member_id}:{today.isoformat()}"


def points_visit_award(*, member_id: int) -> Outcome | None:
    """Record today's visit and its point; the outcome when an entry was written (its points
    may be 0: the cap), None when the visit was already recorded or no visit rule is active."""
    today = program_today()
    seen = visit_seen_key(member_id, today)
    if cache.get(seen):  # the day's visit is already recorded: no query on later page views
        return None
    if Visit.objects.filter(member_id=member_id, day=today).exists():
        cache.set(seen, True, 26 * 3600)
        return None
    visit = VisitMade(member_id=member_id, day=today, occurred_at=timezone.now())
    [outcome] = events_apply(api_key=None, events=[visit])
    cache.set(seen, True, 26 * 3600)
    return outcome if isinstance(outcome, Outcome) else None
