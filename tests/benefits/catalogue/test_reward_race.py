"""Real threads against PostgreSQL: the reward shop never oversells stock nor overspends."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from benefits.catalogue.models import Reward, RewardExchange
from benefits.catalogue.rewards import RewardError, reward_exchange
from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.selectors import ledger_mismatches
from loyalty.ledger.services import points_award
from tests.concurrency import run_threads
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def attempt(member_id: int, reward_id: int) -> str:
    from members.models import Member

    member = Member.objects.get(pk=member_id)
    try:
        reward_exchange(member=member, reward_id=reward_id)
    except RewardError as exc:
        return exc.code
    return "ok"


def test_stock_of_5_and_20_members_at_once() -> None:
    reward = Reward.objects.create(name="Tote bag", kind="merchandise", points=300, stock=5)
    members = [MemberFactory() for _i in range(20)]
    for member in members:
        points_award(member_id=member.pk, points=1000, reason="test")

    outcomes = run_threads(20, lambda i: attempt(members[i].pk, reward.pk))

    assert Counter(outcomes) == {"ok": 5, "out_of_stock": 15}
    reward.refresh_from_db()
    assert reward.stock == 0
    winners = set(RewardExchange.objects.values_list("member_id", flat=True))
    assert len(winners) == 5 and RewardExchange.objects.count() == 5
    balances = dict(Account.objects.values_list("member_id", "balance"))
    for member in members:
        assert balances[member.pk] == (700 if member.pk in winners else 1000)
    assert PointEntry.objects.filter(kind="redeem").count() == 5
    assert ledger_mismatches() == []


def test_one_member_exchanging_many_at_once_never_overspends() -> None:
    template = CouponTemplate.objects.create(
        code="exchange",
        name="5.00 off",
        kind="amount_off",
        value=Decimal("5.00"),
        valid_days=30,
        occasion=Occasion.POINTS_EXCHANGE,
    )
    reward = Reward.objects.create(
        name="5.00 off coupon", kind="coupon", points=300, coupon_template=template
    )
    member = MemberFactory()
    points_award(member_id=member.pk, points=1000, reason="test")

    outcomes = run_threads(8, lambda i: attempt(member.pk, reward.pk))

    assert Counter(outcomes) == {"ok": 3, "insufficient_points": 5}
    assert Account.objects.get(member=member).balance == 100
    assert Coupon.objects.filter(member=member).count() == 3
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 3
    assert ledger_mismatches() == []
