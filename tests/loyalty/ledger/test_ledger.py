from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty.ledger.models import Account, LotAllocation, PointEntry, PointLot
from loyalty.ledger.selectors import ledger_mismatches, points_expiring
from loyalty.ledger.services import (
    InsufficientPoints,
    points_adjust,
    points_award,
    points_expire_due,
    points_redeem,
    points_reverse,
)
from loyalty.program.models import Program
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    """The tests below use fixed 2025/2026 dates: "now" is pinned after them, so expiry
    (which a spend applies first) never depends on the day the suite runs."""
    with time_machine.travel(at(2026, 6, 15), tick=False):
        yield


def balance(member: Member) -> int:
    return Account.objects.get(member=member).balance


def test_award_opens_the_account_and_a_lot_expiring_after_12_months(member: Member) -> None:
    assert not Account.objects.filter(member=member).exists()
    entry = points_award(
        member_id=member.pk, points=5, reason="5 points", occurred_at=at(2026, 1, 31)
    )
    assert balance(member) == 5
    assert entry.qualifying_at == entry.occurred_at
    lot = PointLot.objects.get(entry=entry)
    assert (lot.points, lot.remaining, lot.expires_on) == (5, 5, date(2027, 1, 31))
    assert ledger_mismatches() == []


def test_expiry_policies(member: Member) -> None:
    program = Program.load()
    program.expiry_policy = Program.ExpiryPolicy.YEAR_END
    program.save()
    entry = points_award(member_id=member.pk, points=1, reason="x", occurred_at=at(2026, 3, 1))
    assert entry.lot.expires_on == date(2028, 1, 1)
    program.expiry_policy = Program.ExpiryPolicy.NEVER
    program.save()
    entry = points_award(member_id=member.pk, points=1, reason="x", occurred_at=at(2026, 3, 1))
    assert entry.lot.expires_on is None


def test_redeem_takes_soonest_expiring_lots_first(member: Member) -> None:
    late = points_award(member_id=member.pk, points=10, reason="late", occurred_at=at(2026, 6, 1))
    early = points_award(member_id=member.pk, points=10, reason="early", occurred_at=at(2026, 2, 1))
    spent = points_redeem(member_id=member.pk, points=15, reason="coupon")
    assert spent.points == -15
    assert spent.qualifying_at is None
    assert PointLot.objects.get(entry=early).remaining == 0
    assert PointLot.objects.get(entry=late).remaining == 5
    assert sorted(LotAllocation.objects.filter(entry=spent).values_list("points", flat=True)) == [
        -10,
        -5,
    ]
    assert balance(member) == 5
    assert ledger_mismatches() == []


def test_redeem_more_than_the_balance_is_refused_and_writes_nothing(member: Member) -> None:
    points_award(member_id=member.pk, points=10, reason="x", occurred_at=at(2026, 2, 1))
    with pytest.raises(InsufficientPoints):
        points_redeem(member_id=member.pk, points=11, reason="coupon")
    assert PointEntry.objects.count() == 1
    assert LotAllocation.objects.count() == 0
    assert balance(member) == 10


def test_reversal_of_spent_points_leaves_a_debt_that_earnings_repay(member: Member) -> None:
    earned = points_award(
        member_id=member.pk, points=10, reason="order", occurred_at=at(2026, 2, 1)
    )
    points_redeem(member_id=member.pk, points=8, reason="coupon")
    reversal = points_reverse(entry_id=earned.pk, reason="fraud", occurred_at=at(2026, 2, 3))
    assert reversal.points == -10
    assert reversal.qualifying_at == earned.occurred_at
    assert balance(member) == -8
    with pytest.raises(InsufficientPoints):
        points_redeem(member_id=member.pk, points=1, reason="coupon")
    repay = points_award(member_id=member.pk, points=5, reason="x", occurred_at=at(2026, 2, 4))
    assert balance(member) == -3
    assert PointLot.objects.get(entry=repay).remaining == 0
    again = points_award(member_id=member.pk, points=5, reason="x", occurred_at=at(2026, 2, 5))
    assert balance(member) == 2
    assert PointLot.objects.get(entry=again).remaining == 2
    assert ledger_mismatches() == []


def test_partial_reversal_never_more_than_left(member: Member) -> None:
    earned = points_award(member_id=member.pk, points=5, reason="x", occurred_at=at(2026, 2, 1))
    points_reverse(entry_id=earned.pk, points=2, reason="return")
    with pytest.raises(ValidationError):
        points_reverse(entry_id=earned.pk, points=4, reason="return")
    assert balance(member) == 3
    assert PointEntry.objects.count() == 2


def test_expire_due_once_per_lot(member: Member) -> None:
    old = points_award(member_id=member.pk, points=7, reason="x", occurred_at=at(2025, 1, 10))
    points_award(member_id=member.pk, points=3, reason="y", occurred_at=at(2025, 6, 10))
    with time_machine.travel(at(2025, 7, 1), tick=False):
        points_redeem(member_id=member.pk, points=2, reason="coupon")
    assert points_expiring(member.pk) == (5, date(2026, 1, 10))
    assert points_expire_due(today=date(2026, 1, 9)) == 0
    assert points_expire_due(today=date(2026, 1, 10)) == 1
    assert points_expire_due(today=date(2026, 1, 10)) == 0
    expiry = PointEntry.objects.get(kind="expire")
    assert expiry.points == -5
    assert expiry.reason == "5 points earned 2025-01-10 expired on 2026-01-10"
    assert PointLot.objects.get(entry=old).remaining == 0
    assert balance(member) == 3
    assert ledger_mismatches() == []


def test_adjust_needs_a_reason_and_records_the_staff_user(member: Member) -> None:
    staff = MemberFactory(is_staff=True)
    with pytest.raises(ValidationError) as caught:
        points_adjust(member_id=member.pk, points=5, reason="  ", created_by_id=staff.pk)
    assert "reason" in caught.value.message_dict
    assert not PointEntry.objects.exists()
    entry = points_adjust(member_id=member.pk, points=5, reason="goodwill", created_by_id=staff.pk)
    assert (entry.kind, entry.points, entry.created_by_id) == ("adjust", 5, staff.pk)
    assert entry.qualifying_at is None
    with pytest.raises(ValidationError):
        points_adjust(member_id=member.pk, points=-6, reason="oops", created_by_id=staff.pk)
    points_adjust(member_id=member.pk, points=-5, reason="oops", created_by_id=staff.pk)
    assert balance(member) == 0
    assert ledger_mismatches() == []


def test_verify_ledger_command_lists_mismatches(member: Member) -> None:
    points_award(member_id=member.pk, points=5, reason="x", occurred_at=at(2026, 2, 1))
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
    Account.objects.filter(member=member).update(balance=7)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stderr=err)
    assert f"member {member.pk}: cached balance 7 != sum of entries 5" in err.getvalue()
    assert f"member {member.pk}: lots hold 5 points, entries say 5" not in err.getvalue()


def test_points_past_their_expiry_are_not_spendable_before_the_job_runs(member: Member) -> None:
    points_award(member_id=member.pk, points=10, reason="old", occurred_at=at(2025, 1, 10))
    points_award(member_id=member.pk, points=3, reason="newer", occurred_at=at(2025, 6, 10))
    with time_machine.travel(at(2026, 1, 11), tick=False):  # the 10 expired on 2026-01-10
        assert balance(member) == 13  # the hourly job has not run yet
        with pytest.raises(InsufficientPoints):
            points_redeem(member_id=member.pk, points=5, reason="coupon")
        assert PointEntry.objects.count() == 2  # refused whole: not even the expiry is kept
        points_redeem(member_id=member.pk, points=3, reason="coupon")
    assert list(PointEntry.objects.order_by("id").values_list("kind", "points"))[2:] == [
        ("expire", -10),
        ("redeem", -3),
    ]
    assert balance(member) == 0
    assert points_expire_due(today=date(2026, 1, 11)) == 0  # the job finds nothing left
    assert ledger_mismatches() == []


def test_reversing_an_expired_earning_does_not_take_its_points_twice(member: Member) -> None:
    old = points_award(member_id=member.pk, points=5, reason="old", occurred_at=at(2025, 1, 10))
    points_award(member_id=member.pk, points=10, reason="newer", occurred_at=at(2025, 12, 1))
    assert points_expire_due(today=date(2026, 1, 10)) == 1
    assert balance(member) == 10
    points_reverse(entry_id=old.pk, reason="fraud", occurred_at=at(2026, 2, 1))
    assert balance(member) == 10  # the 5 had already expired: nothing more is taken
    reversal = PointEntry.objects.get(kind="reverse")
    assert reversal.points == -5  # qualifying points still drop by the whole earning
    assert reversal.qualifying_at == old.occurred_at
    given_back = PointEntry.objects.get(kind="expire", points__gt=0)
    assert given_back.points == 5 and given_back.reverses_id == old.pk
    assert given_back.qualifying_at is None
    assert given_back.reason == "5 of the reversed points had already expired: not taken again"
    assert PointLot.objects.exclude(entry=old).get().remaining == 10
    assert ledger_mismatches() == []


def test_reversing_a_partly_spent_partly_expired_earning_takes_only_what_was_spent(
    member: Member,
) -> None:
    earned = points_award(member_id=member.pk, points=10, reason="x", occurred_at=at(2025, 1, 10))
    with time_machine.travel(at(2025, 3, 1), tick=False):
        points_redeem(member_id=member.pk, points=4, reason="coupon")
    assert points_expire_due(today=date(2026, 1, 10)) == 1  # the other 6 expire
    points_reverse(entry_id=earned.pk, points=5, reason="return", occurred_at=at(2026, 2, 1))
    assert balance(member) == 0  # 5 of the 6 expired points count first: nothing taken
    points_reverse(entry_id=earned.pk, reason="fraud", occurred_at=at(2026, 2, 2))
    assert balance(member) == -4  # 1 more expired point, then the 4 spent ones: a debt
    assert sum(PointEntry.objects.filter(kind="reverse").values_list("points", flat=True)) == -10
    assert ledger_mismatches() == []
