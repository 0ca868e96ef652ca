"""The ledger's scheduled work: points that reached their expiry date."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from loyalty.ledger.services import points_expire_due


@shared_task(name="loyalty.expire_points")
def expire_points(day: str | None = None) -> int:
    """Expire the lots due on `day` (ISO date; default: today in the program's time zone).
    Safe to run twice: an expired lot has nothing left to expire."""
    return points_expire_due(today=date.fromisoformat(day) if day else None)
