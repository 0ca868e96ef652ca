"""Staff-set tier floors: a floor above the member's tier raises it at once (history, notice,
level-up reward), once; it never lowers a tier; pending delayed changes around it; when it
ends the next evaluation decides; the admin path; two staff setting it at once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from benefits.coupons.models import Coupon, Occasion
from config.celery import app
from loyalty.ledger.models import Account
from loyalty.program.models import Program
from loyalty.tiers import services as tiers
from loyalty.tiers.models import TierChange, TierFloor
from loyalty.tiers.services import tier_floor_set, tiers_recalculate
from portal.models import Notice
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.concurrency import run_threads
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program-local "today" the floor is set on."""
    monkeypatch.setattr(tiers, "program_today", lambda: TODAY)


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def staff(db: Any) -> Any:
    return MemberFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def levelup_template(ladder: Any) -> Any:
    return CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome to your new tier")


def account(member: Any) -> Account:
    return Account.objects.select_related("tier").get(member=member)


def set_floor(member: Any, tier: Any, staff: Any, **kwargs: Any) -> TierFloor:
    args = {"until": date(2027, 1, 31), "reason": "complaint 4711"} | kwargs
    return tier_floor_set(member_id=member.pk, tier_id=tier.pk, created_by_id=staff.pk, **args)


def test_floor_above_the_tier_raises_it_at_once_with_history_notice_and_reward(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    staff: Any,
    levelup_template: Any,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    member = account_member()
    earn(member, 30, at(2026, 9, 1))
    tiers_recalculate(as_of=date(2026, 10, 31))
    assert account(member).tier == ladder["silver"]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        floor = set_floor(member, ladder["gold"], staff)
        # inside the transaction: the tier and its history, nothing told or issued yet
        assert not Notice.objects.filter(member=member).exists()
        assert not Coupon.objects.filter(member=member).exists()
    acc = account(member)
    assert (acc.tier, acc.tier_effective_on) == (ladder["gold"], TODAY)
    change = TierChange.objects.get(member=member, kind="floor")
    assert (
        change.floor,
        change.period,
        change.from_tier,
        change.to_tier,
        change.direction,
        change.qualifying_points,
        change.effective_on,
        change.applied,
    ) == (floor, TODAY, ladder["silver"], ladder["gold"], "up", 30, TODAY, True)
    assert (change.floor.reason, change.floor.created_by) == ("complaint 4711", staff)

    for callback in callbacks:
        callback()  # wakes the outbox's dispatcher (eager): October's promotion is told too
    notice = Notice.objects.get(member=member, kind="tier_changed", key__contains=":floor:")
    assert notice.key == f"tier:{TODAY.isoformat()}:floor:{ladder['gold'].pk}"
    assert notice.params == {
        "from": "Silver",
        "to": "Gold",
        "direction": "up",
        "effective_on": TODAY.isoformat(),
    }
    coupon = Coupon.objects.get(member=member, occasion=Occasion.LEVEL_UP, tier=ladder["gold"])
    assert (coupon.tier, coupon.period, coupon.template) == (
        ladder["gold"],
        TODAY,
        levelup_template,
    )


def test_the_same_floor_set_twice_changes_nothing_more(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    staff: Any,
    levelup_template: Any,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    member = account_member()
    with django_capture_on_commit_callbacks(execute=True):
        first = set_floor(member, ladder["platinum"], staff)
    snapshot = list(Account.objects.filter(member=member).values_list())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = set_floor(member, ladder["platinum"], staff)
    assert again == first
    assert callbacks == []
    assert TierFloor.objects.count() == 1
    # another floor at the same tier (another reason) is recorded, and moves nothing
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        other = set_floor(member, ladder["platinum"], staff, reason="second complaint")
    assert other != first and callbacks == []
    assert TierFloor.objects.count() == 2
    assert list(Account.objects.filter(member=member).values_list()) == snapshot
    assert list(TierChange.objects.values_list("kind", "to_tier__code")) == [("floor", "platinum")]
    assert Notice.objects.filter(member=member, kind="tier_changed").count() == 1
    assert Coupon.objects.filter(member=member).count() == 1


@pytest.mark.parametrize(
    ("floor_code", "until"),
    [
        ("gold", date(2027, 1, 31)),  # the tier held: nothing to raise
        ("silver", date(2027, 1, 31)),  # below it: never lowers
        ("diamond", date(2026, 11, 19)),  # ended yesterday: not active
    ],
)
def test_floor_that_does_not_raise_is_only_recorded(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    staff: Any,
    django_capture_on_commit_callbacks: Any,
    floor_code: str,
    until: date,
) -> None:
    member = account_member()
    earn(member, 150, at(2026, 9, 1))
    tiers_recalculate(as_of=date(2026, 10, 31))
    snapshot = list(Account.objects.filter(member=member).values_list())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        floor = set_floor(member, ladder[floor_code], staff, until=until)
    assert TierFloor.objects.get() == floor
    assert callbacks == []
    assert list(Account.objects.filter(member=member).values_list()) == snapshot
    assert account(member).tier == ladder["gold"]
    assert not TierChange.objects.filter(kind="floor").exists()


def test_when_the_floor_ends_the_next_evaluation_decides(
    ladder: Any, tz_program: Any, account_member: Any, staff: Any
) -> None:
    member = account_member()
    earn(member, 10, at(2026, 3, 1))
    tiers_recalculate(as_of=date(2026, 10, 31))
    set_floor(member, ladder["platinum"], staff, until=date(2026, 12, 31))
    assert account(member).tier == ladder["platinum"]

    held = tiers_recalculate(as_of=date(2026, 11, 30))  # the floor holds: nothing moves
    assert (held.moved_up, held.moved_down, held.unchanged) == (0, 0, 1)
    assert account(member).tier == ladder["platinum"]
    assert tiers_recalculate(as_of=date(2026, 12, 31)).moved_up == 0  # its last day: held
    assert account(member).tier == ladder["platinum"]

    ended = tiers_recalculate(as_of=date(2027, 1, 31))
    assert ended.moved_down == 1
    acc = account(member)
    assert (acc.tier, acc.qualifying_points) == (ladder["silver"], 10)
    assert list(TierChange.objects.order_by("pk").values_list("kind", "to_tier__code")) == [
        ("evaluation", "silver"),
        ("floor", "platinum"),
        ("evaluation", "silver"),
    ]


def test_a_pending_demotion_stops_at_a_floor_set_after_the_evaluation(
    ladder: Any, tz_program: Any, account_member: Any, staff: Any
) -> None:
    tz_program.tier_effective_day = 8
    tz_program.save()
    kept, lowered = account_member(), account_member()
    for member in (kept, lowered):
        Account.objects.filter(member=member).update(tier=ladder["platinum"])
        earn(member, 30, at(2026, 9, 1))
    tiers_recalculate(as_of=date(2026, 10, 31))  # both: platinum -> silver on 8 November
    assert set(TierChange.objects.values_list("to_tier__code", "applied")) == {("silver", False)}
    set_floor(kept, ladder["gold"], staff)  # below the tier held: recorded, nothing raised
    assert account(kept).tier == ladder["platinum"]

    assert tiers.tier_changes_apply(as_of=date(2026, 11, 8)) == 2
    assert (account(kept).tier, account(lowered).tier) == (ladder["gold"], ladder["silver"])


def test_a_pending_promotion_above_the_floor_still_applies(
    ladder: Any, tz_program: Any, account_member: Any, staff: Any
) -> None:
    tz_program.tier_effective_day = 8
    tz_program.save()
    member, passed = account_member(), account_member()
    earn(member, 2000, at(2026, 9, 1))
    earn(passed, 150, at(2026, 9, 1))
    tiers_recalculate(as_of=date(2026, 10, 31))  # standard -> diamond / gold, on 8 November
    set_floor(member, ladder["gold"], staff)  # raised part of the way at once
    set_floor(passed, ladder["platinum"], staff)  # raised above the pending tier
    assert (account(member).tier, account(passed).tier) == (ladder["gold"], ladder["platinum"])

    assert tiers.tier_changes_apply(as_of=date(2026, 11, 8)) == 1
    assert (account(member).tier, account(passed).tier) == (
        ladder["diamond"],
        ladder["platinum"],
    )


def test_staff_sets_a_floor_in_the_admin_and_the_member_moves_at_once(
    ladder: Any,
    tz_program: Any,
    account_member: Any,
    staff: Any,
    levelup_template: Any,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    member = account_member()
    client = Client()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:loyalty_tierfloor_add"),
            {
                "member": member.pk,
                "tier": ladder["gold"].pk,
                "until": "2027-01-31",
                "reason": "service recovery",
            },
        )
    assert response.status_code == 302
    floor = TierFloor.objects.get()
    assert account(member).tier == ladder["gold"]
    change = TierChange.objects.get()
    assert (change.kind, change.floor, change.from_tier, change.to_tier) == (
        "floor",
        floor,
        ladder["standard"],
        ladder["gold"],
    )
    assert Notice.objects.filter(member=member, kind="tier_changed").count() == 1
    assert Coupon.objects.filter(member=member, tier=ladder["gold"]).count() == 1
    # the history in the admin names the floor's reason and who set it
    listing = client.get(reverse("admin:loyalty_tierchange_changelist")).content.decode()
    assert f"service recovery ({staff})" in listing
    # and the member's own history says where it came from
    client.force_login(member)
    page = " ".join(client.get("/me/tier/").content.decode().split())
    assert "<td>Raised by our service team on Nov. 20, 2026</td>" in page


@pytest.mark.django_db(transaction=True)
def test_two_staff_setting_the_same_floor_at_once_raise_the_member_once(
    ladder: Any, account_member: Any, staff: Any
) -> None:
    Program.load()
    members = [account_member() for _ in range(2)]

    def work(i: int) -> None:
        set_floor(members[i % 2], ladder["gold"], staff)

    run_threads(4, work)
    assert TierFloor.objects.count() == 2
    assert sorted(TierChange.objects.values_list("member_id", "kind", "to_tier__code")) == [
        (members[0].pk, "floor", "gold"),
        (members[1].pk, "floor", "gold"),
    ]
    assert {account(m).tier for m in members} == {ladder["gold"]}


@pytest.mark.django_db(transaction=True)
def test_a_job_chunk_waits_for_a_floor_being_set_in_its_range(
    ladder: Any, tz_program: Any, account_member: Any, staff: Any
) -> None:
    """The floor takes the pending chunk's lock, then the account's: the chunk evaluates the
    raised tier and neither undoes it nor records a second change."""
    import threading

    from django.db import connection, transaction

    member = account_member()
    earn(member, 10, at(2026, 10, 10))
    run = tiers.tier_run_start(as_of=date(2026, 10, 31))
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
        set_floor(member, ladder["gold"], staff)  # holds the chunk and account locks
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # the chunk waits: it must not evaluate the old tier
    thread.join()
    assert errors == []
    assert list(TierChange.objects.values_list("kind", "to_tier__code")) == [("floor", "gold")]
    run.refresh_from_db()
    assert (run.status, run.moved_up, run.moved_down, run.unchanged) == ("done", 0, 0, 1)
    assert account(member).tier == ladder["gold"]
