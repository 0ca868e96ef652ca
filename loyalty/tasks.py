"""Thin Celery tasks: each takes ids or dates and calls one service, and is safe to run twice."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from core.clock import add_months, month_end, program_today

from . import tiers
from .services import points_expire_due


@shared_task(name="loyalty.expire_points")
def expire_points(day: str | None = None) -> int:
    """Expire the lots due on `day` (ISO date; default: today in the program's time zone).
    Safe to run twice: an expired lot has nothing left to expire."""
    return points_expire_due(today=date.fromisoformat(day) if day else None)


@shared_task
def tiers_recalculate_monthly() -> int:
    """Beat (hourly on the 1st and 2nd, UTC): evaluate the month that just ended in the
    program's time zone. Safe to run again: a finished period is left alone, an unfinished
    one gets its pending chunks queued again."""
    as_of = month_end(add_months(program_today(), -1))
    return tiers.tier_run_start(as_of=as_of, enqueue=True).pk


@shared_task
def tier_run_chunk_task(chunk_id: int) -> bool:
    return tiers.tier_run_chunk_process(chunk_id=chunk_id)


@shared_task
def tier_levelup_rewards_task(chunk_id: int) -> int:
    return tiers.tier_levelup_rewards_issue(chunk_id=chunk_id)


@shared_task
def tier_notices_task(chunk_id: int) -> int:
    return tiers.tier_notices_send(chunk_id=chunk_id)


@shared_task
def tier_changes_apply_task(as_of: str | None = None) -> int:
    """Beat (hourly): make delayed tier changes effective once their day has come."""
    day = date.fromisoformat(as_of) if as_of else program_today()
    return tiers.tier_changes_apply(as_of=day)


@shared_task
def tier_instant_upgrade_task(member_id: int) -> int | None:
    """Queued after an earning commits (instant upgrade on): promote the member at once if
    their live points reach a higher tier. Safe to run twice."""
    change = tiers.tier_instant_upgrade(member_id=member_id)
    return change.pk if change is not None else None


@shared_task
def tier_change_levelup_task(change_id: int) -> None:
    """The level-up reward of a promotion between evaluations (instant or floor)."""
    tiers.tier_change_levelup_issue(change_id=change_id)


@shared_task
def tier_runs_follow_ups_task() -> int:
    """Beat (hourly): queue every run's follow-up steps (level-up rewards, notices) still not
    done for chunks committed more than 10 minutes ago. Safe to run twice."""
    return tiers.tier_run_follow_ups_enqueue()
