"""The tier job's tasks (their names are the ones the beat schedule and queued messages use)."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from core.clock import add_months, month_end, program_today
from loyalty.tiers import services as tiers


@shared_task(name="loyalty.tasks.tiers_recalculate_monthly")
def tiers_recalculate_monthly() -> int:
    """Beat (hourly on the 1st and 2nd, UTC): evaluate the month that just ended in the
    program's time zone. Safe to run again: a finished period is left alone, an unfinished
    one gets its pending chunks queued again."""
    as_of = month_end(add_months(program_today(), -1))
    return tiers.tier_run_start(as_of=as_of, enqueue=True).pk


@shared_task(name="loyalty.tasks.tier_run_chunk_task")
def tier_run_chunk_task(chunk_id: int) -> bool:
    return tiers.tier_run_chunk_process(chunk_id=chunk_id)


@shared_task(name="loyalty.tasks.tier_changes_apply_task")
def tier_changes_apply_task(as_of: str | None = None) -> int:
    """Beat (hourly): make delayed tier changes effective once their day has come."""
    day = date.fromisoformat(as_of) if as_of else program_today()
    return tiers.tier_changes_apply(as_of=day)


@shared_task(name="loyalty.tasks.tier_instant_upgrade_task")
def tier_instant_upgrade_task(member_id: int) -> int | None:
    """Promote the member at once if their live points reach a higher tier (instant upgrade
    on). Safe to run twice. Earnings reach the check through the outbox (`points.earned`,
    loyalty.tiers.subscribers); the task stays for staff and for messages queued before."""
    change = tiers.tier_instant_upgrade(member_id=member_id)
    return change.pk if change is not None else None
