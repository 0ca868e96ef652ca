"""Instant upgrade between evaluations: off by default, promotes at once when on, never
demotes, once, with floors, pending delayed changes and the monthly job around it."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction

from config.celery import app
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger.models import Account
from loyalty.ledger.services import points_award
from loyalty.program.models import Program
from loyalty.tiers import services as tiers
from loyalty.tiers import tasks
from loyalty.tiers.models import TierChange, TierFloor
from loyalty.tiers.services import tier_instant_upgrade, tiers_recalculate
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def instant(tz_program: Program) -> Program:
    tz_program.instant_upgrade = True
    tz_program.save()
    return Program.load()


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pin the program-local "today" of the instant upgrade."""

    def pin(day: date) -> None:
        monkeypatch.setattr(tiers, "program_today", lambda: day)

    return pin


@pytest.fixture
def rewards(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from benefits.coupons import subscribers as benefits_services

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(benefits_services, "levelup_reward_issue", lambda **kw: calls.append(kw))
    return calls


def account(member: Any) -> Account:
    return Account.objects.get(member=member)


def test_off_by_default_an_earning_changes_no_tier(
    ladder: Any, tz_program: Any, account_member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert Program.load().instant_upgrade is False
    member = account_member()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        points_award(member_id=member.pk, points=150, reason="order")
    assert len(callbacks) == 1  # the outbox's wake-up: the earning is a `points.earned` event
    delivery = OutboxDelivery.objects.get(subscriber="loyalty.tiers.subscribers.instant_upgrade")
    assert (delivery.status, delivery.event.member_id) == ("done", member.pk)
    acc = account(member)
    assert (acc.tier_id, acc.tier_effective_on, acc.balance) == (None, None, 150)
    assert not TierChange.objects.exists()
    # and the service itself does nothing while the setting is off
    assert tier_instant_upgrade(member_id=member.pk) is None
    assert not TierChange.objects.exists()


def test_on_an_earning_promotes_at_once_with_history_and_reward(
    ladder: Any,
    instant: Program,
    account_member: Any,
    eager: None,
    rewards: list[dict[str, Any]],
    today: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    today(date(2026, 11, 15))
    member = account_member()
    earn(member, 60, at(2025, 11, 16))  # inside the window ending with 15 November
    earn(member, 500, at(2025, 11, 15, 23, 59))  # just outside it: never counts

    # one transaction, three earnings: three `points.earned` events, one check for the member
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for points in (20, 20, 5):
            points_award(
                member_id=member.pk, points=points, reason="order", occurred_at=at(2026, 11, 15)
            )
        assert len(callbacks) == 0
    # After the commit the outbox's wake-up per event (coalesced by `outbox.wake` itself),
    # whose dispatch runs the check; after the check's commit the promotion's wake-up, which
    # hands it to the reward, the inbox notice and its email.
    assert len(callbacks) == 4
    assert OutboxEvent.objects.filter(type="points.earned", member_id=member.pk).count() == 3

    acc = account(member)
    assert (acc.tier, acc.tier_effective_on, acc.qualifying_points, acc.evaluated_on) == (
        ladder["gold"],
        date(2026, 11, 15),
        105,
        date(2026, 11, 15),
    )
    change = TierChange.objects.get(member=member)
    assert (
        change.kind,
        change.period,
        change.from_tier,
        change.to_tier,
        change.direction,
        change.qualifying_points,
        change.effective_on,
        change.applied,
    ) == ("instant", date(2026, 11, 15), ladder["standard"], ladder["gold"], "up", 105,
          date(2026, 11, 15), True)  # fmt: skip
    assert rewards == [{"member_id": member.pk, "tier_id": ladder["gold"].pk,
                        "period": date(2026, 11, 15)}]  # fmt: skip


def test_earning_that_stays_in_the_tier_changes_nothing(
    ladder: Any, instant: Program, account_member: Any, eager: None, today: Any,
    rewards: list[dict[str, Any]], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    today(date(2026, 11, 15))
    member = account_member()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        points_award(member_id=member.pk, points=0, reason="capped")  # 0 points: no check
    assert callbacks == []
    assert tier_instant_upgrade(member_id=member.pk) is None  # 0 points: base tier, no move
    assert not TierChange.objects.exists() and rewards == []
    assert account(member).tier_id is None


def test_never_demotes_and_runs_once(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    today(date(2026, 11, 15))
    member = account_member()
    Account.objects.filter(member=member).update(tier=ladder["platinum"])
    earn(member, 150, at(2026, 11, 10))  # live: Gold, below the Platinum held
    assert tier_instant_upgrade(member_id=member.pk) is None
    assert account(member).tier == ladder["platinum"]
    assert not TierChange.objects.exists()

    other = account_member()
    earn(other, 150, at(2026, 11, 10))
    first = tier_instant_upgrade(member_id=other.pk)
    assert first is not None and first.to_tier == ladder["gold"]
    assert tier_instant_upgrade(member_id=other.pk) is None  # the second run finds it done
    assert TierChange.objects.filter(member=other).count() == 1
    # a higher tier later the same day is a second promotion
    earn(other, 400, at(2026, 11, 15, 9))
    second = tier_instant_upgrade(member_id=other.pk)
    assert second is not None
    assert (second.from_tier, second.to_tier, second.period) == (
        ladder["gold"],
        ladder["platinum"],
        date(2026, 11, 15),
    )


def test_floors_raise_the_upgrade_and_expired_floors_do_not(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    today(date(2026, 11, 15))
    staff = MemberFactory(is_staff=True)
    member = account_member()
    TierFloor.objects.create(
        member=member, tier=ladder["platinum"], until=date(2026, 12, 31), reason="vip",
        created_by=staff,
    )  # fmt: skip
    TierFloor.objects.create(
        member=member, tier=ladder["diamond"], until=date(2026, 11, 14), reason="ended",
        created_by=staff,
    )  # fmt: skip
    earn(member, 150, at(2026, 11, 10))
    change = tier_instant_upgrade(member_id=member.pk)
    assert change is not None
    assert (change.to_tier, change.qualifying_points) == (ladder["platinum"], 150)
    assert account(member).tier == ladder["platinum"]


def test_pending_delayed_change_is_not_repeated_and_not_applied_over_a_higher_tier(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    instant.tier_effective_day = 8
    instant.save()
    member = account_member()
    earn(member, 150, at(2026, 10, 20))
    tiers_recalculate(as_of=date(2026, 10, 31))  # Gold, effective 8 November
    assert account(member).tier_id is None

    today(date(2026, 11, 3))
    # live Gold: the promotion is already decided (and rewarded): nothing more now
    assert tier_instant_upgrade(member_id=member.pk) is None
    earn(member, 400, at(2026, 11, 3, 10))  # live Platinum: promoted at once
    change = tier_instant_upgrade(member_id=member.pk)
    assert change is not None
    assert (change.from_tier, change.to_tier) == (ladder["standard"], ladder["platinum"])

    # on the 8th the pending Gold is settled, not applied over Platinum
    assert tiers.tier_changes_apply(as_of=date(2026, 11, 8)) == 0
    acc = account(member)
    assert (acc.tier, acc.tier_effective_on) == (ladder["platinum"], date(2026, 11, 3))
    assert not TierChange.objects.filter(applied=False).exists()


def test_monthly_job_after_instant_upgrades(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    late, early = account_member(), account_member()
    earn(late, 150, at(2026, 12, 1, 9))  # earned after the November evaluation's date
    earn(early, 150, at(2026, 11, 20))
    today(date(2026, 12, 1))  # both promoted on 1 December, before November's run
    assert tier_instant_upgrade(member_id=late.pk) is not None
    assert tier_instant_upgrade(member_id=early.pk) is not None

    # November's evaluation does not undo an upgrade that took effect after its date
    november = tiers_recalculate(as_of=date(2026, 11, 30))
    assert (november.processed, november.moved_up, november.moved_down, november.unchanged) == (
        2,
        0,
        0,
        2,
    )
    assert account(late).tier == ladder["gold"] and account(early).tier == ladder["gold"]

    # December's evaluation may demote: its change shares the instant row's period (1 December)
    Account.objects.filter(member=late).update(tier=ladder["platinum"])
    december = tiers_recalculate(as_of=date(2026, 12, 31))
    assert (december.moved_up, december.moved_down, december.unchanged) == (0, 1, 1)
    rows = sorted(
        TierChange.objects.filter(member=late).values_list("kind", "period", "to_tier__code")
    )
    assert rows == [
        ("evaluation", date(2026, 12, 1), "gold"),
        ("instant", date(2026, 12, 1), "gold"),
    ]
    again = tiers_recalculate(as_of=date(2026, 12, 31))  # the rerun changes nothing
    assert (again.moved_up, again.moved_down) == (0, 1)
    assert TierChange.objects.count() == 3


def test_task_is_thin_and_safe_twice(ladder: Any, instant: Program, account_member: Any) -> None:
    member = account_member()
    points_award(member_id=member.pk, points=150, reason="order")
    change_id = tasks.tier_instant_upgrade_task(member.pk)
    assert change_id == TierChange.objects.get(member=member).pk
    assert tasks.tier_instant_upgrade_task(member.pk) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_promote_once(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    today(date(2026, 11, 15))
    members = [account_member() for _ in range(3)]
    for member in members:
        earn(member, 600, at(2026, 11, 1))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def check(member_id: int) -> None:
        try:
            barrier.wait()
            tier_instant_upgrade(member_id=member_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check, args=(m.pk,)) for m in members[:2] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(TierChange.objects.values_list("member_id", "to_tier__code")) == [
        (members[0].pk, "platinum"),
        (members[1].pk, "platinum"),
    ]
    assert account(members[2]).tier_id is None


def test_tier_page_shows_the_instant_upgrade(
    ladder: Any, instant: Program, account_member: Any, today: Any, client: Any
) -> None:
    today(date(2026, 11, 15))
    member = account_member()
    earn(member, 150, at(2026, 11, 10))
    assert tier_instant_upgrade(member_id=member.pk) is not None
    client.force_login(member)
    html = " ".join(client.get("/me/tier/").content.decode().split())
    assert "<td>Instant upgrade on Nov. 15, 2026</td>" in html
    assert "<td>150</td>" in html


@pytest.mark.django_db(transaction=True)
def test_job_chunk_waits_for_an_instant_upgrade_in_its_range(
    ladder: Any, instant: Program, account_member: Any, today: Any
) -> None:
    member = account_member()
    earn(member, 150, at(2026, 11, 10))
    today(date(2026, 12, 1))
    run = tiers.tier_run_start(as_of=date(2026, 11, 30))
    chunk_id = run.chunks.get().pk
    errors: list[BaseException] = []

    def process() -> None:
        try:
            tiers.tier_run_chunk_process(chunk_id=chunk_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=process)
    with transaction.atomic():
        change = tier_instant_upgrade(member_id=member.pk)  # holds the chunk and account locks
        assert change is not None
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # the chunk waits: it must not evaluate the old tier
    thread.join()
    assert errors == []
    # the job saw the promotion: no second promotion of the member, counted unchanged
    assert list(TierChange.objects.values_list("kind", "to_tier__code")) == [("instant", "gold")]
    run.refresh_from_db()
    assert (run.status, run.moved_up, run.moved_down, run.unchanged) == ("done", 0, 0, 1)
    assert account(member).tier == ladder["gold"]


def test_a_batch_of_orders_promotes_at_once_and_tells_the_member(
    program: None,
    account_member: Any,
    api_client: Any,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A batch checks the tier as one event does, and the promotion lands in the member's
    inbox."""
    from django.utils import timezone

    from portal.models import Notice

    settings_row = Program.load()
    settings_row.instant_upgrade = True
    settings_row.save()
    member = account_member()
    when = (timezone.now() - timezone.timedelta(hours=1)).isoformat()
    events = [
        {
            "id": f"evt-{n}",
            "type": "order.received",
            "member": member.number,
            "occurred_at": when,
            "order": {"number": f"SO-{n}", "amount": "12.50", "currency": "USD"},
        }
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/events/batch/", {"events": events}, format="json")
    assert response.status_code == 200
    assert [r["points"] for r in response.json()["results"]] == [5, 0, 0]  # the daily cap
    acc = account(member)
    assert acc.tier is not None and acc.tier.code == "silver"
    change = TierChange.objects.get(member=member)
    assert (change.kind, change.to_tier.code, change.qualifying_points) == ("instant", "silver", 5)
    notice = Notice.objects.get(member=member, kind="tier_changed")
    assert notice.params["to"] == "Silver"
