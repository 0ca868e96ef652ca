"""Thin Celery tasks: each takes a date or an id and calls one service. Safe to run twice."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from benefits.coupons import services
from core.clock import program_today


@shared_task(name="benefits.issue_occasion_coupons")
def issue_occasion_coupons_task(day: str | None = None) -> int:
    """The daily job: birthday and anniversary coupons of `day` (default: program today)."""
    target = date.fromisoformat(day) if day else program_today()
    return services.issue_occasion_coupons(day=target).total


@shared_task(name="benefits.expire_coupons")
def expire_coupons_task() -> int:
    return services.coupons_expire()


@shared_task(name="benefits.run_coupon_issue_job")
def coupon_issue_job_run_task(job_id: int, batch_size: int = 1000) -> int:
    """Run (or resume, from its recorded position) a staff issuing job. Safe to run twice."""
    return services.coupon_issue_job_run(job_id=job_id, batch_size=batch_size).issued


@shared_task(name="benefits.resume_coupon_issue_jobs")
def coupon_issue_jobs_resume_stale_task() -> int:
    """Every 5 minutes: staff jobs with no progress for 10 minutes are run again."""
    return services.coupon_issue_jobs_resume_stale()
