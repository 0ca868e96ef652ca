"""A chunk's follow-ups (level-up rewards, notices) are finished from the database's state: a
worker killed after the chunk's commit, or during the rewards, leaves flags that the next
start, the command and the hourly task read; a redelivered task finds its flag set."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benefits.coupons.models import Coupon, Occasion
from config.celery import app
from loyalty.tiers import services as tiers
from loyalty.tiers import tasks
from loyalty.tiers.models import TierRun, TierRunChunk
from portal.models import Notice
from tests.benefits.factories import CouponTemplateFactory
from tests.factories import MemberFactory

from .conftest import earn

UTC = ZoneInfo("UTC")
AS_OF = date(2026, 11, 30)


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def promoted(ladder: Any, account_member: Any) -> list[Any]:
    """Three members who reach gold as of 30 November, and a level-up coupon for gold."""
    CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome to gold")
    members = [account_member() for _i in range(3)]
    for member in members:
        earn(member, 150, datetime(2026, 11, 15, tzinfo=UTC))
    return members


def _killed_after_commit(capture: Any) -> TierRun:
    """The run and its chunk commit; the worker dies before queueing the follow-ups."""
    with capture() as lost:
        run = tiers.tier_run_start(as_of=AS_OF)
        for chunk_id in run.chunks.values_list("pk", flat=True):
            tiers.tier_run_chunk_process(chunk_id=chunk_id)
    assert len(lost) == 2  # rewards and notices, never run
    run.refresh_from_db()
    return run


def _age_chunks(minutes: int) -> None:
    TierRunChunk.objects.update(done_at=timezone.now() - timedelta(minutes=minutes))


def _counts(members: list[Any]) -> tuple[int, int, int]:
    return (
        Coupon.objects.filter(member__in=members).count(),
        Notice.objects.filter(member__in=members).count(),
        len(mail.outbox),
    )


def test_rerun_finishes_the_follow_ups_a_killed_worker_left(
    promoted: list[Any], eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    run = _killed_after_commit(django_capture_on_commit_callbacks)
    assert (run.status, run.moved_up) == ("done", 3)
    chunk = TierRunChunk.objects.get()
    assert (chunk.rewards_done, chunk.notices_done) == (False, False)

    _age_chunks(5)  # within the grace period: left to the tasks the chunk queued
    with django_capture_on_commit_callbacks(execute=True) as queued:
        tiers.tier_run_start(as_of=AS_OF, enqueue=True)
    assert queued == []

    _age_chunks(11)
    with django_capture_on_commit_callbacks(execute=True):
        tiers.tier_run_start(as_of=AS_OF, enqueue=True)
    chunk.refresh_from_db()
    assert (chunk.rewards_done, chunk.notices_done) == (True, True)
    # 3 coupons, 3 tier notices + 3 coupon notices, one email each
    assert _counts(promoted) == (3, 6, 6)

    # a late redelivery of both tasks, and the next start: nothing more
    assert tiers.tier_levelup_rewards_issue(chunk_id=chunk.pk) == 0
    assert tiers.tier_notices_send(chunk_id=chunk.pk) == 0
    with django_capture_on_commit_callbacks(execute=True) as again:
        tiers.tier_run_start(as_of=AS_OF, enqueue=True)
    assert again == []
    assert _counts(promoted) == (3, 6, 6)


def test_rewards_killed_half_way_are_finished_once(
    promoted: list[Any],
    eager: None,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benefits.coupons import services

    _killed_after_commit(django_capture_on_commit_callbacks)
    chunk = TierRunChunk.objects.get()
    real = services.levelup_reward_issue
    calls: list[int] = []

    def dies_on_the_second(**kwargs: Any) -> Any:
        calls.append(kwargs["member_id"])
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(services, "levelup_reward_issue", dies_on_the_second)
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
        tiers.tier_levelup_rewards_issue(chunk_id=chunk.pk)
    monkeypatch.setattr(services, "levelup_reward_issue", real)
    chunk.refresh_from_db()
    assert chunk.rewards_done is False
    assert Coupon.objects.count() == 1

    _age_chunks(11)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tier_runs_follow_ups_task.delay()  # the hourly task
    chunk.refresh_from_db()
    assert (chunk.rewards_done, chunk.notices_done) == (True, True)
    assert _counts(promoted) == (3, 6, 6)
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == sorted(
        m.pk for m in promoted
    )


def test_hourly_task_covers_every_run_and_the_command_too(
    promoted: list[Any], eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    _killed_after_commit(django_capture_on_commit_callbacks)
    _age_chunks(11)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("recalculate_tiers", "--as-of", AS_OF.isoformat(), stdout=StringIO())
    assert _counts(promoted) == (3, 6, 6)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.tier_runs_follow_ups_task.delay().get() == 0
    assert queued == []
    entry = settings.CELERY_BEAT_SCHEDULE["tiers-finish-run-follow-ups"]
    assert entry["task"] == "loyalty.tasks.tier_runs_follow_ups_task"
    assert entry["task"] in app.tasks


def test_a_chunk_without_moves_has_nothing_left(ladder: Any, account_member: Any) -> None:
    account_member()
    tiers.tiers_recalculate(as_of=AS_OF)
    chunk = TierRunChunk.objects.get()
    assert (chunk.done, chunk.rewards_done, chunk.notices_done) == (True, True, True)
    assert chunk.done_at is not None


def test_admin_shows_chunks_with_work_left(
    promoted: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    _killed_after_commit(django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:loyalty_tierrun_changelist")).content.decode()
    assert '<td class="field-work_left">1</td>' in page
    TierRunChunk.objects.update(rewards_done=True, notices_done=True)
    page = client.get(reverse("admin:loyalty_tierrun_changelist")).content.decode()
    assert '<td class="field-work_left">0</td>' in page
