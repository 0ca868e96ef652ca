"""The tier tables' keys on PostgreSQL, as the monthly job relies on them: a tier change's
member key goes through the member's account (migration 0012), and the account's tier has no
index, so the job's update of a moved member is a HOT update (migration 0013)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from loyalty.ledger.models import Account
from loyalty.program.models import Tier
from loyalty.tiers.models import TierChange
from loyalty.tiers.services import tiers_recalculate
from members.models import Member
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")


def _keys_checked() -> None:
    """Run the deferred key checks now (as COMMIT would)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _change(
    member: Member,
    ladder: dict[str, Tier],
    *,
    period: date = date(2026, 10, 1),
    kind: str = TierChange.Kind.EVALUATION,
) -> TierChange:
    return TierChange.objects.create(
        member=member,
        period=period,
        kind=kind,
        from_tier=ladder["standard"],
        to_tier=ladder["gold"],
        direction="up",
        qualifying_points=150,
        effective_on=date(2026, 11, 1),
        applied=True,
        created_at=timezone.now(),
    )


def test_a_change_for_a_member_without_an_account_is_refused(ladder: Any) -> None:
    member = MemberFactory()
    with pytest.raises(IntegrityError, match="tierchange_member_account_fk"), transaction.atomic():
        _change(member, ladder)
        _keys_checked()
    assert not TierChange.objects.exists()


def test_a_change_for_a_member_with_an_account_is_kept(ladder: Any, account_member: Any) -> None:
    member = account_member()
    _change(member, ladder)
    _keys_checked()
    assert TierChange.objects.filter(member=member).count() == 1


def test_a_second_evaluation_of_a_member_in_a_period_is_refused(
    ladder: Any, account_member: Any
) -> None:
    """The once-per-period key (period first since migration 0015) still holds per member:
    another member, another period or another kind of change is not held back by it."""
    member, other = account_member(), account_member()
    _change(member, ladder)
    with pytest.raises(IntegrityError, match="tierchange_once_per_period"), transaction.atomic():
        _change(member, ladder)
    _change(other, ladder)
    _change(member, ladder, period=date(2026, 11, 1))
    _change(member, ladder, kind=TierChange.Kind.INSTANT)
    assert TierChange.objects.filter(member=member).count() == 3
    assert TierChange.objects.filter(member=other).count() == 1


def test_an_account_with_changes_cannot_be_removed_alone(ladder: Any, account_member: Any) -> None:
    member = account_member()
    _change(member, ladder)
    with pytest.raises(IntegrityError, match="tierchange_member_account_fk"), transaction.atomic():
        Account.objects.filter(member=member).delete()
        _keys_checked()
    assert Account.objects.filter(member=member).count() == 1


def test_removing_a_member_removes_their_account_and_changes(
    ladder: Any, account_member: Any
) -> None:
    member = account_member()
    _change(member, ladder)
    member.delete()
    _keys_checked()
    assert not TierChange.objects.exists()
    assert not Account.objects.exists()


def _account_updates() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pg_stat_get_xact_tuples_updated(%s::regclass),
                      pg_stat_get_xact_tuples_hot_updated(%s::regclass)""",
            [Account._meta.db_table] * 2,
        )
        updated, hot = cursor.fetchone()
    return int(updated), int(hot)


def test_the_jobs_update_of_a_moved_member_is_hot(ladder: Any, account_member: Any) -> None:
    member = account_member()
    earn(member, 150, datetime(2026, 10, 1, tzinfo=SH))
    updated, hot = _account_updates()

    result = tiers_recalculate(as_of=date(2026, 10, 31))

    assert result.moved_up == 1
    assert Account.objects.get(member=member).tier == ladder["gold"]
    assert _account_updates() == (updated + 1, hot + 1)
