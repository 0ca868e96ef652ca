"""Random earn, return, fraud, spend and expire sequences against the ledger services."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyalty.ledger.models import Account, PointEntry, PointLot
from loyalty.ledger.selectors import ledger_mismatches
from loyalty.ledger.services import (
    InsufficientPoints,
    points_award,
    points_expire_due,
    points_redeem,
    points_reverse,
)
from tests.factories import MemberFactory

START = datetime(2025, 1, 1, 12, tzinfo=ZoneInfo("UTC"))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.member = MemberFactory()
        self.earnings: list[int] = []
        self.before = 0
        self.last_was_reversal = False
        self.today = START.date()

    def balance(self) -> int:
        account = Account.objects.filter(member=self.member).first()
        return account.balance if account else 0

    def _left(self, entry_id: int) -> int:
        entry = PointEntry.objects.get(pk=entry_id)
        reversed_ = PointEntry.objects.filter(
            reverses=entry, kind=PointEntry.Kind.REVERSE
        ).aggregate(s=Sum("points"))["s"]
        return entry.points + (reversed_ or 0)

    def _step(self, reversal: bool) -> None:
        self.before = self.balance()
        self.last_was_reversal = reversal

    @rule(points=st.integers(0, 60), day=st.integers(0, 500))
    def earn(self, points: int, day: int) -> None:
        self._step(False)
        entry = points_award(
            member_id=self.member.pk,
            points=points,
            reason="earned",
            occurred_at=START + timedelta(days=day),
        )
        if points:
            self.earnings.append(entry.pk)

    @precondition(lambda self: self.earnings)
    @rule(data=st.data())
    def return_part(self, data: Any) -> None:
        entry_id = data.draw(st.sampled_from(self.earnings))
        left = self._left(entry_id)
        if left <= 0:
            return
        self._step(True)
        points = data.draw(st.integers(1, left))
        points_reverse(entry_id=entry_id, points=points, reason="returned")

    @precondition(lambda self: self.earnings)
    @rule(data=st.data())
    def fraud(self, data: Any) -> None:
        entry_id = data.draw(st.sampled_from(self.earnings))
        if self._left(entry_id) <= 0:
            return
        self._step(True)
        points_reverse(entry_id=entry_id, reason="fraud")
        assert self._left(entry_id) == 0

    @rule(points=st.integers(1, 120))
    def spend(self, points: int) -> None:
        """Spend on `self.today`: points past their expiry date are never spendable, even
        when the expiry job has not run yet (the spend expires them first)."""
        self._step(False)
        count = PointEntry.objects.count()
        due = (
            PointLot.objects.filter(
                member=self.member, remaining__gt=0, expires_on__lte=self.today
            ).aggregate(s=Sum("remaining"))["s"]
            or 0
        )
        with time_machine.travel(
            datetime.combine(self.today, time(12), ZoneInfo("UTC")), tick=False
        ):
            if self.before - due < points:
                with pytest.raises(InsufficientPoints):
                    points_redeem(member_id=self.member.pk, points=points, reason="coupon")
                assert PointEntry.objects.count() == count  # nothing written, not even expiry
            else:
                points_redeem(member_id=self.member.pk, points=points, reason="coupon")
                assert self.balance() == self.before - due - points

    @rule(days=st.integers(0, 200))
    def expire(self, days: int) -> None:
        self._step(False)
        self.today = self.today + timedelta(days=days)
        points_expire_due(today=self.today)
        assert points_expire_due(today=self.today) == 0  # once per lot

    @invariant()
    def balance_is_the_sum_of_entries(self) -> None:
        total = PointEntry.objects.filter(member=self.member).aggregate(s=Sum("points"))["s"]
        assert self.balance() == (total or 0)

    @invariant()
    def lots_agree_with_entries(self) -> None:
        assert ledger_mismatches() == []

    @invariant()
    def only_a_reversal_makes_a_balance_negative(self) -> None:
        now = self.balance()
        if not self.last_was_reversal:
            assert now >= 0 or now >= self.before


@pytest.mark.django_db
def test_ledger_state_machine() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
