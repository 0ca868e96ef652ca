"""The Celery side of the tier job: beat entries, fan-out after commit, safe reruns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab
from django.conf import settings

from config.celery import app
from loyalty.ledger.models import Account
from loyalty.tiers import tasks
from loyalty.tiers.models import TierChange, TierRun
from portal.models import Notice
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.conf, "task_always_eager", True)


def test_beat_entries() -> None:
    monthly = settings.CELERY_BEAT_SCHEDULE["tiers-recalculate-monthly"]
    assert monthly["task"] == "loyalty.tasks.tiers_recalculate_monthly"
    assert monthly["schedule"] == crontab(minute=5, day_of_month="1,2")
    apply = settings.CELERY_BEAT_SCHEDULE["tiers-apply-delayed-changes"]
    assert apply["task"] == "loyalty.tasks.tier_changes_apply_task"
    assert set(app.tasks) >= {
        "loyalty.tasks.tiers_recalculate_monthly",
        "loyalty.tasks.tier_run_chunk_task",
        "loyalty.tasks.tier_changes_apply_task",
        "core.outbox_dispatch",  # rewards, notices and emails follow from the outbox
    }


def test_monthly_task_evaluates_last_month_in_program_time_zone(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    eager: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from benefits.coupons import subscribers as benefits_services

    rewards: list[dict[str, Any]] = []
    monkeypatch.setattr(benefits_services, "levelup_reward_issue", lambda **kw: rewards.append(kw))
    # 1 December 00:30 in Shanghai is still 30 November in UTC: November has ended there.
    monkeypatch.setattr(tasks, "program_today", lambda: date(2026, 12, 1))
    member = account_member()
    earn(member, 150, datetime(2026, 11, 30, 23, 0, tzinfo=SH))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.tiers_recalculate_monthly.delay()
    assert len(callbacks) >= 2  # the chunk tasks, then the level-up rewards: after commit
    run = TierRun.objects.get()
    assert (run.period, run.as_of, run.status, run.moved_up) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        "done",
        1,
    )
    assert Account.objects.get(member=member).tier == ladder["gold"]
    assert rewards == [
        {"member_id": member.pk, "tier_id": ladder["gold"].pk, "period": date(2026, 11, 1)}
    ]
    # the inbox notice comes from its own task, queued after the chunk's commit
    assert list(Notice.objects.filter(member=member).values_list("kind", "params__to")) == [
        ("tier_changed", "Gold")
    ]

    # the beat fires again an hour later: nothing is queued, nothing changes
    with django_capture_on_commit_callbacks(execute=True) as again:
        tasks.tiers_recalculate_monthly.delay()
    assert again == []
    assert TierChange.objects.count() == 1 and len(rewards) == 1
    assert Notice.objects.filter(member=member).count() == 1


def test_unfinished_run_gets_its_pending_chunks_queued_again(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(tasks, "program_today", lambda: date(2026, 12, 1))
    queued: list[int] = []
    monkeypatch.setattr(  # what is sent to the broker (services queue tasks by name)
        tasks.tier_run_chunk_task,
        "apply_async",
        lambda args=(), kwargs=None, **_options: queued.append(args[0]),
    )
    for _ in range(3):
        account_member()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tiers_recalculate_monthly()
    run = TierRun.objects.get()
    assert len(queued) == run.chunks_total == 1
    # the worker died before processing: the next beat queues the same chunk again
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tiers_recalculate_monthly()
    assert queued == [queued[0], queued[0]]
    assert tasks.tier_run_chunk_task(queued[0]) is True
    assert tasks.tier_run_chunk_task(queued[0]) is False  # a duplicate delivery does nothing
    run.refresh_from_db()
    assert (run.status, run.processed, run.unchanged) == ("done", 3, 3)


def test_apply_task_makes_delayed_changes_effective(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    tz_program.tier_effective_day = 8
    tz_program.save()
    member = account_member()
    earn(member, 600, datetime(2026, 10, 3, tzinfo=SH))
    from loyalty.tiers.services import tiers_recalculate

    tiers_recalculate(as_of=date(2026, 10, 31))
    assert tasks.tier_changes_apply_task("2026-11-07") == 0
    assert tasks.tier_changes_apply_task("2026-11-08") == 1
    assert tasks.tier_changes_apply_task("2026-11-08") == 0
    account = Account.objects.get(member=member)
    assert (account.tier, account.tier_effective_on) == (ladder["platinum"], date(2026, 11, 8))
