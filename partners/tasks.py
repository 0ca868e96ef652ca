from __future__ import annotations

from celery import shared_task

from .services import providers_suspend_overdue


@shared_task(name="partners.suspend_overdue")
def suspend_overdue() -> int:
    return providers_suspend_overdue()
