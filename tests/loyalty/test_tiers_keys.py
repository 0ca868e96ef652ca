"""The tier tables' keys on PostgreSQL, as the monthly job relies on them: a tier change's
member key goes through the member's account (migration 0011)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from loyalty.models import Account, Tier, TierChange
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.postgres


def _keys_checked() -> None:
    """Run the deferred key checks now (as COMMIT would)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _change(member: Member, ladder: dict[str, Tier]) -> TierChange:
    return TierChange.objects.create(
        member=member,
        period=date(2026, 10, 1),
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
