"""The monthly tier recalculation: window edges, moves, floors, delays, exactly-once."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from core import outbox
from loyalty.ledger.models import Account, PointEntry
from loyalty.program.models import Tier
from loyalty.tiers import services as tiers
from loyalty.tiers.models import TierChange, TierFloor, TierRun, TierRunChunk
from loyalty.tiers.services import ladder_validate, tier_floor_set, tiers_recalculate
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")
OCT_END = date(2026, 10, 31)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def account(member: Any) -> Account:
    return Account.objects.select_related("tier").get(member=member)


# --- the window ---------------------------------------------------------------------------
def test_window_edges_in_program_time_zone(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    member = account_member()
    earn(member, 1, at(2025, 11, 1, 0, 0, 0))  # first instant of the window: counts
    earn(member, 1000, at(2025, 10, 31, 23, 59, 59))  # just before it: not
    earn(member, 100, at(2026, 10, 31, 23, 59, 59))  # last second of the window: counts
    # 2026-11-01 00:00 in Shanghai is still 31 October in UTC: outside the window.
    earn(member, 5000, at(2026, 11, 1, 0, 0, 0))
    # spending and expiry carry no qualifying_at and never count
    PointEntry.objects.create(
        member=member, kind="redeem", points=-50, occurred_at=at(2026, 6, 1), reason="spent"
    )

    result = tiers_recalculate(as_of=OCT_END)

    acc = account(member)
    assert acc.qualifying_points == 101
    assert acc.tier == ladder["gold"]
    assert acc.evaluated_on == OCT_END
    assert acc.tier_effective_on == date(2026, 11, 1)
    assert (result.processed, result.moved_up, result.moved_down, result.unchanged) == (1, 1, 0, 0)
    change = TierChange.objects.get(member=member)
    assert (change.period, change.from_tier, change.to_tier, change.qualifying_points) == (
        date(2026, 10, 1),
        ladder["standard"],
        ladder["gold"],
        101,
    )
    assert change.direction == "up" and change.applied is True


def test_reversal_after_the_window_counts_next_month(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    member = account_member()
    earning = earn(member, 200, at(2026, 5, 1, 12))
    # returned on 5 November: counts against May, but only from evaluations after 5 November
    earn(member, -200, at(2026, 5, 1, 12), occurred_at=at(2026, 11, 5), kind="reverse")
    # a reversal of an earning from before the window never counts
    earn(member, -30, at(2025, 9, 1), occurred_at=at(2026, 10, 10), kind="reverse")
    assert earning.points == 200

    tiers_recalculate(as_of=OCT_END)
    assert (account(member).tier, account(member).qualifying_points) == (ladder["gold"], 200)

    result = tiers_recalculate(as_of=date(2026, 11, 30))
    acc = account(member)
    assert (acc.tier, acc.qualifying_points) == (ladder["standard"], 0)
    assert (result.moved_up, result.moved_down) == (0, 1)
    down = TierChange.objects.get(member=member, period=date(2026, 11, 1))
    assert (down.from_tier, down.to_tier, down.direction) == (
        ladder["gold"],
        ladder["standard"],
        "down",
    )


def test_points_leaving_the_window_demote(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    member = account_member()
    earn(member, 600, at(2025, 11, 30, 10))  # leaves the window at the end of November 2026
    earn(member, 50, at(2026, 2, 1))
    tiers_recalculate(as_of=OCT_END)
    assert account(member).tier == ladder["platinum"]

    tiers_recalculate(as_of=date(2026, 11, 30))
    acc = account(member)
    assert (acc.tier, acc.qualifying_points, acc.tier_effective_on) == (
        ladder["silver"],
        50,
        date(2026, 12, 1),
    )
    assert list(
        TierChange.objects.filter(member=member)
        .order_by("period")
        .values_list("to_tier__code", "direction")
    ) == [("platinum", "up"), ("silver", "down")]


def test_unchanged_members_are_counted_and_not_recorded(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    quiet = account_member()
    result = tiers_recalculate(as_of=OCT_END)
    assert (result.total, result.processed, result.unchanged) == (1, 1, 1)
    assert not TierChange.objects.exists()
    acc = account(quiet)
    assert acc.tier is None and acc.evaluated_on is None  # nothing to write for them


# --- floors -------------------------------------------------------------------------------
def test_floor_keeps_a_member_up_until_its_end(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    staff = MemberFactory(is_staff=True)
    member = account_member()
    earn(member, 10, at(2026, 3, 1))
    floor = tier_floor_set(
        member_id=member.pk,
        tier_id=ladder["platinum"].pk,
        until=date(2026, 11, 30),
        reason="complaint 4711",
        created_by_id=staff.pk,
    )
    assert (floor.created_by, floor.reason) == (staff, "complaint 4711")

    tiers_recalculate(as_of=OCT_END)
    assert account(member).tier == ladder["platinum"]
    tiers_recalculate(as_of=date(2026, 11, 30))  # the floor's last day: still held
    assert account(member).tier == ladder["platinum"]
    tiers_recalculate(as_of=date(2026, 12, 31))
    acc = account(member)
    assert (acc.tier, acc.qualifying_points) == (ladder["silver"], 10)


def test_floor_below_the_earned_tier_changes_nothing(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    staff = MemberFactory(is_staff=True)
    member = account_member()
    earn(member, 2000, at(2026, 3, 1))
    tier_floor_set(
        member_id=member.pk,
        tier_id=ladder["gold"].pk,
        until=date(2027, 1, 1),
        reason="goodwill",
        created_by_id=staff.pk,
    )
    tiers_recalculate(as_of=OCT_END)
    assert account(member).tier == ladder["diamond"]


def test_floor_needs_a_reason(ladder: Any, account_member: Any) -> None:
    staff = MemberFactory(is_staff=True)
    member = account_member()
    with pytest.raises(ValidationError):
        tier_floor_set(
            member_id=member.pk,
            tier_id=ladder["gold"].pk,
            until=date(2027, 1, 1),
            reason="  ",
            created_by_id=staff.pk,
        )
    assert not TierFloor.objects.exists()


# --- the effective day --------------------------------------------------------------------
def test_effective_day_delays_the_change(ladder: Any, tz_program: Any, account_member: Any) -> None:
    tz_program.tier_effective_day = 8
    tz_program.save()
    member = account_member()
    earn(member, 150, at(2026, 10, 20))

    result = tiers_recalculate(as_of=OCT_END)
    acc = account(member)
    assert result.moved_up == 1
    assert (acc.tier, acc.qualifying_points) == (None, 150)  # still the base tier
    change = TierChange.objects.get(member=member)
    assert (change.effective_on, change.applied, change.to_tier) == (
        date(2026, 11, 8),
        False,
        ladder["gold"],
    )

    assert tiers.tier_changes_apply(as_of=date(2026, 11, 7)) == 0
    assert account(member).tier is None
    assert tiers.tier_changes_apply(as_of=date(2026, 11, 8)) == 1
    acc = account(member)
    assert (acc.tier, acc.tier_effective_on) == (ladder["gold"], date(2026, 11, 8))
    change.refresh_from_db()
    assert change.applied is True
    assert tiers.tier_changes_apply(as_of=date(2026, 11, 9)) == 0  # idempotent


# --- exactly once -------------------------------------------------------------------------
def _population(account_member: Any, n: int) -> list[Any]:
    members = [account_member() for _ in range(n)]
    for i, member in enumerate(members):
        earn(member, [0, 50, 150, 700, 2000][i % 5], at(2026, 6, 1))
    return members


def test_rerun_of_a_period_changes_nothing(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    members = _population(account_member, 7)
    first = tiers_recalculate(as_of=OCT_END, chunk_size=2)
    assert (first.status, first.total, first.processed, first.moved_up, first.unchanged) == (
        "done",
        7,
        7,
        5,
        2,
    )
    snapshot = list(Account.objects.order_by("pk").values_list())
    changes = list(TierChange.objects.order_by("pk").values_list())
    # more points arrive, but the period was evaluated: a rerun leaves everything alone
    earn(members[0], 5000, at(2026, 10, 2))
    again = tiers_recalculate(as_of=OCT_END, chunk_size=2)
    assert again == first
    assert list(Account.objects.order_by("pk").values_list()) == snapshot
    assert list(TierChange.objects.order_by("pk").values_list()) == changes
    assert TierRun.objects.count() == 1


def test_crashed_run_resumes_where_it_stopped(
    ladder: Any, tz_program: Any, account_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _population(account_member, 7)
    real_evaluate = tiers._evaluate_range
    calls = {"n": 0}

    def crash_on_third(*args: Any, **kwargs: Any) -> Any:
        counts = real_evaluate(*args, **kwargs)  # the third chunk's rows are written...
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")  # ...and the worker dies before the commit
        return counts

    monkeypatch.setattr(tiers, "_evaluate_range", crash_on_third)
    with pytest.raises(RuntimeError):
        tiers_recalculate(as_of=OCT_END, chunk_size=2)
    run = TierRun.objects.get()
    assert (run.status, run.chunks_total, run.chunks_done, run.processed) == ("running", 4, 2, 4)
    assert run.percent == 50  # progress counts chunks while running
    assert TierChange.objects.count() == 3  # the chunk that crashed wrote nothing
    assert list(
        TierRunChunk.objects.order_by("first_member_id").values_list("done", flat=True)
    ) == [
        True,
        True,
        False,
        False,
    ]

    monkeypatch.setattr(tiers, "_evaluate_range", real_evaluate)
    result = tiers_recalculate(as_of=OCT_END, chunk_size=2)
    assert (result.status, result.processed, result.moved_up, result.unchanged) == (
        "done",
        7,
        5,
        2,
    )
    assert TierChange.objects.count() == 5
    run.refresh_from_db()
    assert (run.total, run.percent) == (7, 100)  # done: the exact number evaluated
    assert sorted(Account.objects.values_list("tier__code", flat=True), key=str) == sorted(
        ["diamond", "gold", "platinum", "silver", "silver", None, None], key=str
    )


def test_a_chunk_meeting_a_change_already_recorded_is_refused_whole(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    """A chunk is processed once, so an evaluation row already there for one of its members
    and the period is a fault: the chunk is refused whole (its other moves and every
    account update roll back, the chunk stays pending) instead of skipping that row while
    the account moves anyway."""
    stray, other = account_member(), account_member()
    earn(stray, 700, at(2026, 6, 1))
    earn(other, 150, at(2026, 6, 1))
    TierChange.objects.create(
        member=stray,
        period=date(2026, 10, 1),
        from_tier=ladder["standard"],
        to_tier=ladder["silver"],
        direction="up",
        qualifying_points=1,
        effective_on=date(2026, 11, 1),
        applied=True,
        created_at=at(2026, 11, 1),
    )

    refused = "tierchange_once_per_period"
    with pytest.raises(IntegrityError, match=refused):
        tiers_recalculate(as_of=OCT_END)

    assert list(Account.objects.values_list("tier", "qualifying_points", "evaluated_on")) == [
        (None, 0, None),
        (None, 0, None),
    ]
    assert list(TierChange.objects.values_list("member", "to_tier", "qualifying_points")) == [
        (stray.pk, ladder["silver"].pk, 1)
    ]
    run = TierRun.objects.get()
    assert (run.status, run.chunks_done, run.processed, run.moved_up) == ("running", 0, 0, 0)
    assert not TierRunChunk.objects.filter(done=True).exists()


def test_dry_run_counts_and_writes_nothing(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    _population(account_member, 5)
    result = tiers_recalculate(as_of=OCT_END, dry_run=True)
    assert (result.dry_run, result.processed, result.moved_up, result.moved_down) == (True, 5, 4, 0)
    assert not TierRun.objects.exists()
    assert not TierChange.objects.exists()
    assert not Account.objects.exclude(qualifying_points=0).exists()


def test_promotions_call_the_levelup_hook_after_commit(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from benefits.coupons import subscribers as benefits_services

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(benefits_services, "levelup_reward_issue", lambda **kw: calls.append(kw))
    member = account_member()
    earn(member, 150, at(2026, 10, 1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tiers_recalculate(as_of=OCT_END)
        assert calls == []  # nothing inside the transaction
    for callback in callbacks:
        callback()  # wakes the outbox's dispatcher (a task)...
    outbox.dispatch()  # ...which a worker runs
    assert calls == [
        {"member_id": member.pk, "tier_id": ladder["gold"].pk, "period": date(2026, 10, 1)}
    ]


def test_needs_a_ladder(db: Any) -> None:
    with pytest.raises(ValidationError):
        tiers_recalculate(as_of=OCT_END)
    assert not TierRun.objects.exists()


# --- the ladder ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rungs", "code"),
    [
        ([(1, 0), (2, 1), (3, 101)], None),
        ([(1, 0), (2, 101), (3, 100)], "ladder_order"),
        ([(1, 5), (2, 101)], "ladder_base"),
        ([(1, 0), (1, 101)], "rank_duplicate"),
        ([(1, 0), (2, 0)], "ladder_base"),
    ],
)
def test_ladder_validation(rungs: list[tuple[int, int]], code: str | None) -> None:
    if code is None:
        ladder_validate(rungs)
        return
    with pytest.raises(ValidationError) as excinfo:
        ladder_validate(rungs)
    assert excinfo.value.code == code


# --- two runs at once (PostgreSQL, real threads) ------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_do_the_work_once(
    ladder: Any, tz_program: Any, account_member: Any
) -> None:
    _population(account_member, 10)
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(tiers_recalculate(as_of=OCT_END, chunk_size=2))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 2
    run_row = TierRun.objects.get()
    assert (run_row.status, run_row.total, run_row.processed, run_row.chunks_done) == (
        "done",
        10,
        10,
        5,
    )
    assert (run_row.moved_up, run_row.moved_down, run_row.unchanged) == (8, 0, 2)
    assert TierChange.objects.count() == 8
    assert TierRunChunk.objects.filter(done=True).count() == 5
    assert Tier.objects.count() == 5
    assert timedelta(0) <= run_row.finished_at - run_row.started_at  # type: ignore[operator]
