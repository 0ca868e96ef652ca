"""Faults: a coupon is announced (notice and email) once through the outbox, however often
it is handed over and by however many dispatchers; staff issuing jobs resume from the
database's state and never issue a member twice."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from benefits.coupons.models import Coupon, CouponIssueJob, CouponTemplate, Occasion
from benefits.coupons.services import (
    _job_batch,
    coupon_issue_job_run,
    coupon_issue_job_start,
    coupon_issue_jobs_resume_stale,
    coupons_announce,
    daily_coupon_claim,
)
from core import outbox
from core.models import OutboxDelivery
from portal.models import Notice
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.concurrency import run_threads
from tests.factories import MemberFactory


def _coupons(count: int) -> list[int]:
    template = CouponTemplateFactory(name="Lost coupon")
    return [
        CouponFactory(template=template, occasion=Occasion.BIRTHDAY, period=date(2026, 1, 1)).pk
        for _i in range(count)
    ]


def _announce(coupon_ids: list[int]) -> None:
    with transaction.atomic():
        coupons_announce(coupon_ids)


def _announced(coupon_ids: list[int]) -> int:
    return Notice.objects.filter(key__in=[f"coupon:{pk}" for pk in coupon_ids]).count()


# --- Coupon notices (through the outbox) ---------------------------------------------------


@pytest.mark.django_db
def test_a_coupon_is_announced_by_a_notice_and_an_email_once() -> None:
    ids = _coupons(3)
    _announce(ids)
    assert _announced(ids) == 0  # nothing before a dispatcher runs
    outbox.dispatch()
    assert _announced(ids) == 3
    assert len(mail.outbox) == 3
    assert all("Lost coupon" in m.subject or "Lost coupon" in m.body for m in mail.outbox)
    assert Notice.objects.filter(emailed_at=None).count() == 0
    OutboxDelivery.objects.update(status="pending")  # handed over again (a redelivery)
    outbox.dispatch()
    assert (_announced(ids), len(mail.outbox)) == (3, 3)


@pytest.mark.django_db
def test_coupons_that_are_not_announced_get_no_notice(member: Any) -> None:
    template = CouponTemplateFactory(occasion=Occasion.DAILY_QUOTA, daily_quota=5)
    claimed = daily_coupon_claim(member=member, template_id=template.pk)
    exchanged = CouponFactory(occasion=Occasion.POINTS_EXCHANGE)
    job = _job(CouponTemplateFactory())
    staff_job = CouponFactory(occasion=Occasion.MANUAL, job=job, job_round=job.round)
    _announce([exchanged.pk, staff_job.pk])
    outbox.dispatch()
    assert _announced([claimed.pk, exchanged.pk]) == 0
    assert _announced([staff_job.pk]) == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_coupon_notice_written_but_never_emailed_is_emailed_once() -> None:
    coupon = CouponFactory(occasion=Occasion.BIRTHDAY, period=date(2026, 1, 1))
    Notice.objects.create(
        member=coupon.member, kind=Notice.Kind.COUPON_ISSUED, key=f"coupon:{coupon.pk}"
    )
    _announce([coupon.pk])
    outbox.dispatch()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [coupon.member.email]
    assert _announced([coupon.pk]) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_two_dispatchers_at_once_announce_each_coupon_once() -> None:
    ids = _coupons(40)
    _announce(ids)
    run_threads(4, lambda _i: outbox.dispatch())
    assert len(mail.outbox) == 40
    assert _announced(ids) == 40


def test_beat_entries() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert "benefits-sweep-coupon-notices" not in schedule  # the outbox keeps each coupon's
    assert "members-sweep-notice-emails" not in schedule  # every notice email is a subscriber's
    assert (
        schedule["benefits-resume-coupon-issue-jobs"]["task"] == "benefits.resume_coupon_issue_jobs"
    )


# --- Staff issuing jobs -----------------------------------------------------------------


def _members(count: int) -> list[int]:
    return [MemberFactory().pk for _i in range(count)]


def _job(template: CouponTemplate, **kwargs: Any) -> CouponIssueJob:
    job = CouponIssueJob.objects.create(template=template, reason="Sorry", **kwargs)
    return coupon_issue_job_start(job=job)


def _per_member(template: CouponTemplate) -> dict[int, int]:
    counts: dict[int, int] = {}
    for member_id in Coupon.objects.filter(template=template).values_list("member", flat=True):
        counts[member_id] = counts.get(member_id, 0) + 1
    return counts


@pytest.mark.django_db
def test_recreated_job_and_redelivered_task_issue_nobody_twice() -> None:
    members = _members(5)
    template = CouponTemplateFactory()
    first = _job(template)
    assert _job_batch(first.pk, 2)  # then the worker is killed
    first.refresh_from_db()
    assert (first.status, first.processed, first.issued, first.last_member_id) == (
        "running",
        2,
        2,
        members[1],
    )

    second = coupon_issue_job_run(job_id=_job(template).pk, batch_size=2)  # staff re-create
    assert (second.status, second.total, second.processed, second.issued) == ("done", 5, 5, 3)
    assert second.skipped == 2

    again = coupon_issue_job_run(job_id=first.pk, batch_size=2)  # the broker redelivers
    assert (again.status, again.total, again.processed, again.issued) == ("done", 5, 5, 2)
    assert _per_member(template) == dict.fromkeys(members, 1)
    template.refresh_from_db()
    assert template.issued_count == 5


@pytest.mark.django_db
def test_issue_again_gives_the_job_a_round_of_its_own() -> None:
    members = _members(3)
    template = CouponTemplateFactory()
    coupon_issue_job_run(job_id=_job(template).pk)
    again = _job(template, issue_again=True)
    assert again.round == 1
    done = coupon_issue_job_run(job_id=again.pk)
    assert (done.processed, done.issued) == (3, 3)
    assert _per_member(template) == dict.fromkeys(members, 2)
    third = _job(template, issue_again=True)
    assert third.round == 2
    ordinary = coupon_issue_job_run(job_id=_job(template).pk)  # joins round 0: nothing new
    assert (ordinary.round, ordinary.processed, ordinary.issued) == (0, 3, 0)


@pytest.mark.django_db
def test_a_done_job_run_again_changes_nothing() -> None:
    _members(3)
    template = CouponTemplateFactory()
    job = coupon_issue_job_run(job_id=_job(template).pk)
    CouponIssueJob.objects.filter(pk=job.pk).update(status="running")  # as a redelivery finds it
    again = coupon_issue_job_run(job_id=job.pk)
    assert (again.status, again.processed, again.issued, again.total) == ("done", 3, 3, 3)
    assert Coupon.objects.count() == 3


@pytest.mark.django_db
def test_stale_jobs_are_resumed_by_the_sweep(django_capture_on_commit_callbacks: Any) -> None:
    members = _members(4)
    template = CouponTemplateFactory()
    stale = _job(template)
    _job_batch(stale.pk, 3)
    CouponIssueJob.objects.filter(pk=stale.pk).update(
        progressed_at=timezone.now() - timedelta(minutes=11)
    )
    busy = _job(CouponTemplateFactory())
    _job_batch(busy.pk, 1)  # progressed just now: left to its worker
    lost = _job(CouponTemplateFactory())  # its task was never queued
    CouponIssueJob.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks() as queued:
        assert coupon_issue_jobs_resume_stale() == 2
    assert len(queued) == 2
    stale = coupon_issue_job_run(job_id=stale.pk, batch_size=3)
    assert (stale.status, stale.processed, stale.issued, stale.total) == ("done", 4, 4, 4)
    assert _per_member(template) == dict.fromkeys(members, 1)


@pytest.mark.django_db(transaction=True)
def test_two_runners_of_one_job_side_by_side() -> None:
    members = _members(30)
    template = CouponTemplateFactory()
    job = _job(template)
    run_threads(3, lambda _i: coupon_issue_job_run(job_id=job.pk, batch_size=4))
    job.refresh_from_db()
    assert (job.status, job.processed, job.issued, job.total) == ("done", 30, 30, 30)
    assert _per_member(template) == dict.fromkeys(members, 1)
    template.refresh_from_db()
    assert template.issued_count == 30


@pytest.mark.django_db(transaction=True)
def test_two_issue_again_jobs_created_together_get_different_rounds() -> None:
    _members(2)
    template = CouponTemplateFactory()
    jobs = [
        CouponIssueJob.objects.create(template=template, reason="x", issue_again=True)
        for _i in range(4)
    ]
    run_threads(4, lambda i: coupon_issue_job_start(job=jobs[i]))
    rounds = sorted(CouponIssueJob.objects.values_list("round", flat=True))
    assert rounds == [1, 2, 3, 4]


def _staff(client: Any) -> Any:
    from allauth.account.models import EmailAddress

    from members.models import Member

    staff = Member.objects.create_superuser(email="boss@example.com", password="pw-123-long-enough")
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    client.force_login(staff)
    return staff


@pytest.mark.django_db
def test_admin_resume_action(
    client: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)
    _staff(client)
    _members(3)
    template = CouponTemplateFactory(total_quantity=1)
    failed = coupon_issue_job_run(job_id=_job(template).pk)
    assert failed.status == "failed"
    CouponTemplate.objects.filter(pk=template.pk).update(total_quantity=10)  # staff add more
    done = coupon_issue_job_run(job_id=_job(CouponTemplateFactory()).pk)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(
            "/admin/benefits/couponissuejob/",
            {"action": "resume", "_selected_action": [failed.pk, done.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert len(queued) == 2  # the resumed job's task, then (eagerly) the outbox's dispatch
    texts = [str(m) for m in response.context["messages"]]
    assert texts == [
        "1 job will resume from where it stopped.",
        "1 job was already done: nothing to resume.",
    ]
    failed.refresh_from_db()
    # three members and the staff member (also a member)
    assert (failed.status, failed.processed, failed.issued, failed.error) == ("done", 4, 4, "")
    page = client.get("/admin/benefits/couponissuejob/")
    assert page.status_code == 200


@pytest.mark.django_db
def test_admin_add_form_issue_again(client: Any, django_capture_on_commit_callbacks: Any) -> None:
    _staff(client)
    template = CouponTemplateFactory()
    form = client.get("/admin/benefits/couponissuejob/add/")
    assert b'name="issue_again"' in form.content
    for again in ("", "on"):
        data = {"template": template.pk, "reason": "Thanks", "tiers": [], "language": ""}
        if again:
            data["issue_again"] = again
        with django_capture_on_commit_callbacks():
            response = client.post("/admin/benefits/couponissuejob/add/", data)
        assert response.status_code == 302
    assert list(CouponIssueJob.objects.order_by("pk").values_list("issue_again", "round")) == [
        (False, 0),
        (True, 1),
    ]
