"""Kill drills: a worker subprocess is killed with SIGKILL at a chosen point; the job's resume
and the outbox (whose events commit with the work that records them) then finish it from the
database's state, and a late redelivery of the killed worker's task adds nothing. Exact counts
of coupons, notices and emails after."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from benefits.coupons.models import Coupon, CouponIssueJob, CouponTemplate, Occasion
from benefits.coupons.services import coupon_issue_job_start
from core import outbox
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger.services import account_open, points_award
from loyalty.program.models import Tier
from loyalty.program.presets.tiers import load as load_tiers
from loyalty.tiers.models import TierChange, TierRun, TierRunChunk
from loyalty.tiers.services import tier_run_start
from members.models import Member
from portal.models import Notice
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.factories import MemberFactory

from .conftest import Drill

MEMBERS = 30
BATCH = 10
RUN_JOB = "benefits.run_coupon_issue_job"
RESUME_JOBS = "benefits.resume_coupon_issue_jobs"
DISPATCH = "core.outbox_dispatch"

pytestmark = pytest.mark.outbox_wakes_celery  # the workers dispatch, not this process


def _dispatched(drill: Drill) -> None:
    """Wait until the outbox has nothing pending, then run the dispatcher twice more (as beat
    would): nothing is left, nothing happens twice."""
    drill.wait_for(
        lambda: not OutboxDelivery.objects.exclude(status=OutboxDelivery.Status.DONE).exists(),
        "the outbox to be dispatched",
    )
    done = drill.done(DISPATCH)
    drill.send(DISPATCH)
    drill.send(DISPATCH)
    drill.wait_done(DISPATCH, done + 2)


def _ledger_clean() -> None:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue(), out.getvalue()


def _staff_job(template: CouponTemplate) -> CouponIssueJob:
    job = CouponIssueJob.objects.create(template=template, reason="Sorry for the delay")
    return coupon_issue_job_start(job=job)  # its own queueing goes to the test's memory broker


def _assert_every_member_once(template: CouponTemplate, drill: Drill, members: list[Any]) -> None:
    per_member = Counter(Coupon.objects.filter(template=template).values_list("member", flat=True))
    assert per_member == Counter({m.pk: 1 for m in members})
    keys = {f"coupon:{pk}" for pk in Coupon.objects.values_list("pk", flat=True)}
    notices = Notice.objects.filter(kind=Notice.Kind.COUPON_ISSUED)
    assert set(notices.values_list("key", flat=True)) == keys
    assert notices.count() == len(members)
    assert notices.filter(emailed_at=None).count() == 0
    assert Counter(drill.emails()) == Counter({m.email: 1 for m in members})
    template.refresh_from_db()
    assert template.issued_count == len(members)


def test_drill_incident_job_killed_recreated_redelivered_then_dispatched(drill: Drill) -> None:
    members = [MemberFactory() for _i in range(MEMBERS)]
    template = CouponTemplateFactory(name="Delivery delay")
    first = _staff_job(template)

    killed = drill.worker(pause="job_batch:2")  # batch 1 has committed (its events with it)
    drill.send(RUN_JOB, first.pk, batch_size=BATCH)
    drill.wait_reached()
    drill.kill(killed)
    first.refresh_from_db()
    assert (first.status, first.processed, first.issued) == ("running", BATCH, BATCH)
    assert Notice.objects.count() == 0

    second = _staff_job(template)  # staff re-create the job
    drill.worker(visibility_timeout=2)  # and the broker redelivers the first job's task
    drill.send(RUN_JOB, second.pk, batch_size=BATCH)
    drill.wait_done(RUN_JOB, 2)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.total, first.processed) == ("done", MEMBERS, MEMBERS)
    assert (second.status, second.total, second.processed) == ("done", MEMBERS, MEMBERS)
    # Which of the two goes first is the broker's and the worker's: the re-created job (the
    # redelivery then finds every member served) or the redelivered one (it issues the rest,
    # the re-created job finds them served). Either way the members after the first batch
    # get one coupon between them.
    assert sorted([first.issued, second.issued]) in (
        [BATCH, MEMBERS - BATCH],
        [0, MEMBERS],
    )
    assert first.issued >= BATCH
    assert first.issued + second.issued == MEMBERS

    _dispatched(drill)
    _assert_every_member_once(template, drill, members)
    _ledger_clean()


def test_drill_killed_job_resumed_by_the_sweep_redelivery_adds_nothing(drill: Drill) -> None:
    members = [MemberFactory() for _i in range(MEMBERS)]
    template = CouponTemplateFactory(name="Thank you")
    job = _staff_job(template)

    killed = drill.worker(pause="job_batch:3")  # after batch 2
    drill.send(RUN_JOB, job.pk, batch_size=BATCH)
    drill.wait_reached()
    drill.kill(killed)
    job.refresh_from_db()
    assert (job.status, job.processed, job.issued) == ("running", 2 * BATCH, 2 * BATCH)

    CouponIssueJob.objects.filter(pk=job.pk).update(
        progressed_at=timezone.now() - timedelta(minutes=11)
    )
    resumer = drill.worker()  # visibility 1 h: the killed task is not redelivered yet
    drill.send(RESUME_JOBS)
    drill.wait_done(RUN_JOB, 1)
    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.issued) == (
        "done",
        MEMBERS,
        MEMBERS,
        MEMBERS,
    )
    drill.kill(resumer)

    drill.worker(visibility_timeout=2)  # an hour later, as it were: the redelivery
    drill.wait_done(RUN_JOB, 2)
    _dispatched(drill)
    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.issued) == (
        "done",
        MEMBERS,
        MEMBERS,
        MEMBERS,
    )
    _assert_every_member_once(template, drill, members)
    _ledger_clean()


def test_drill_dispatcher_killed_before_each_subscriber_commits(drill: Drill) -> None:
    """A chunk's six promotions reach each subscriber once although the dispatcher is killed
    three times: after the level-up rewards were issued and their deliveries marked done but
    before the commit (one batch, one transaction), likewise after the inbox notices, and as
    the first email was about to leave (the batch's notices stamped, not committed)."""
    load_tiers("aliexpress")
    gold = Tier.objects.get(code="gold")
    template = CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome to gold")
    members: list[Member] = []
    for _i in range(6):
        member = MemberFactory()
        account_open(member_id=member.pk)
        points_award(
            member_id=member.pk,
            points=150,
            reason="Order",
            occurred_at=datetime(2026, 11, 15, tzinfo=ZoneInfo("UTC")),
        )
        members.append(member)
    outbox.dispatch()  # the set-up's own events (points earned) are handed out here
    run = tier_run_start(as_of=date(2026, 11, 30))
    chunk = TierRunChunk.objects.get(run=run)
    deliveries = OutboxDelivery.objects.filter(event__type="tier.changed").exclude(
        subscriber="webhooks.subscribers.enqueue"
    )

    # 1. The chunk commits with its six events; the dispatcher it wakes hands them out,
    #    issues the six rewards and marks them done, and is killed before committing either
    #    (its first batch, the webhooks' messages, committed before: that subscriber comes
    #    first in the dispatcher's order).
    killed = drill.worker(pause="outbox_attempt:2")
    drill.send("loyalty.tasks.tier_run_chunk_task", chunk.pk)
    drill.wait_reached()
    drill.kill(killed)
    chunk.refresh_from_db()
    assert chunk.done and TierChange.objects.filter(to_tier=gold).count() == 6
    assert deliveries.count() == 18 and not deliveries.filter(status="done").exists()
    assert Coupon.objects.count() == 0

    # 2. Beat's dispatcher: the six rewards commit; killed after the six notices.
    killed = drill.worker(pause="outbox_attempt:2")
    drill.send(DISPATCH)
    drill.wait_reached()
    drill.kill(killed)
    assert (Coupon.objects.count(), Notice.objects.count()) == (6, 0)

    # 3. Killed as the first email is about to leave (the notices stamped, uncommitted).
    killed = drill.worker(pause="email_send:1")
    drill.send(DISPATCH)
    drill.wait_reached()
    drill.kill(killed)
    assert drill.emails() == []
    assert Notice.objects.filter(kind=Notice.Kind.TIER_CHANGED, emailed_at=None).count() == 6

    # 4. A worker that lives, and the late redeliveries of the killed workers' tasks.
    drill.worker(visibility_timeout=2)
    drill.send(DISPATCH)
    _dispatched(drill)
    drill.wait_done("loyalty.tasks.tier_run_chunk_task", 1)  # the first worker's, redelivered

    run.refresh_from_db()
    assert (run.status, run.moved_up) == ("done", 6)
    assert Counter(Coupon.objects.values_list("member", flat=True)) == Counter(
        {m.pk: 1 for m in members}
    )
    assert Notice.objects.filter(kind=Notice.Kind.TIER_CHANGED).count() == 6
    assert Notice.objects.filter(kind=Notice.Kind.COUPON_ISSUED).count() == 6
    assert Notice.objects.filter(emailed_at=None).count() == 0
    assert Counter(drill.emails()) == Counter({m.email: 2 for m in members})  # tier, coupon
    template.refresh_from_db()
    assert template.issued_count == 6
    assert TierRun.objects.count() == 1
    assert OutboxEvent.objects.filter(type="tier.changed").count() == 6
    _ledger_clean()
