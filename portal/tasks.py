"""Thin Celery tasks for the member inbox: each takes dates or ids and calls one service."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from core.clock import program_today
from portal.notices import notice_emails_sweep, notices_points_expiring


@shared_task(name="members.notices_points_expiring")
def notices_points_expiring_task(day: str | None = None) -> int:
    """Daily: a notice (and email) per point lot expiring within 30 days, once per lot."""
    return notices_points_expiring(today=date.fromisoformat(day) if day else program_today())


@shared_task(name="members.notice_emails_sweep")
def notice_emails_sweep_task() -> int:
    """Every 5 minutes: the tier and points-expiring emails a killed worker lost, once each."""
    return notice_emails_sweep()
