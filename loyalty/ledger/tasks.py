"""The ledger's scheduled work: points that reached their expiry date, and points about to."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from core.clock import program_today
from loyalty.ledger.services import points_expire_due, points_expiring_announce


@shared_task(name="loyalty.expire_points")
def expire_points(day: str | None = None) -> int:
    """Expire the lots due on `day` (ISO date; default: today in the program's time zone).
    Safe to run twice: an expired lot has nothing left to expire."""
    return points_expire_due(today=date.fromisoformat(day) if day else None)


@shared_task(name="loyalty.announce_expiring_points")
def announce_expiring_points(day: str | None = None) -> int:
    """Announce the lots expiring within 30 days of `day` (ISO date; default: today in the
    program's time zone), each once: a `points.expiring` event per lot."""
    return points_expiring_announce(today=date.fromisoformat(day) if day else program_today())
