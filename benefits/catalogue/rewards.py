"""The reward shop: what a member can buy with points (a read) and the exchange (a service).

An exchange is one transaction: a guarded UPDATE takes one from the reward's stock
(`stock > 0`, re-checked by PostgreSQL after waiting on the row lock, so stock is never
oversold), the ledger's `points_redeem` spends the points under the member's account lock
(so points are never overspent), then the coupon is issued or the item reserved. Any refusal
raises and rolls everything back. Locks are always taken in the order reward, then account.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.catalogue.models import Reward, RewardExchange
from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from loyalty.ledger.selectors import member_tier, points_balance
from loyalty.ledger.services import InsufficientPoints, points_redeem
from loyalty.program.models import Tier
from members.models import Member


class RewardError(Exception):
    """A refused exchange with a stable code; `message` is shown to the member."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _tier_allows(reward: Reward, tier: Tier | None) -> bool:
    tiers = list(reward.eligible_tiers.all())
    return not tiers or (tier is not None and tier in tiers)


@dataclass(frozen=True)
class RewardOffer:
    reward: Reward
    available: bool
    code: str  # "available", "not_eligible", "out_of_stock", "insufficient_points"
    reason: str  # why not, for the member ("" when available)


def reward_offers(member: Member) -> tuple[int, list[RewardOffer]]:
    """(balance, every active reward with whether the member can exchange it now and why not).

    Constant queries: the rewards with their tiers (2), the member's tier (1-2), the balance.
    """
    rewards = list(
        Reward.objects.filter(active=True)
        .select_related("coupon_template")
        .prefetch_related("eligible_tiers")
        .order_by("position", "points", "pk")
    )
    tier = member_tier(member)
    balance = points_balance(member.pk)
    offers = []
    for reward in rewards:
        if not _tier_allows(reward, tier):
            names = ", ".join(t.name for t in sorted(reward.eligible_tiers.all(), key=_rank))
            offers.append(
                RewardOffer(
                    reward, False, "not_eligible", _("Only for %(tiers)s.") % {"tiers": names}
                )
            )
        elif reward.stock is not None and reward.stock <= 0:
            offers.append(RewardOffer(reward, False, "out_of_stock", _("Out of stock.")))
        elif balance < reward.points:
            missing = reward.points - max(balance, 0)
            offers.append(
                RewardOffer(
                    reward,
                    False,
                    "insufficient_points",
                    _("You need %(missing)d more points.") % {"missing": missing},
                )
            )
        else:
            offers.append(RewardOffer(reward, True, "available", ""))
    return balance, offers


def member_exchanges(member: Member, limit: int = 10) -> list[RewardExchange]:
    """The member's latest exchanges, newest first (one query)."""
    return list(
        RewardExchange.objects.filter(member=member)
        .select_related("reward", "coupon")
        .order_by("-created_at", "-pk")[:limit]
    )


def _rank(tier: Tier) -> int:
    return tier.rank


@transaction.atomic
def reward_exchange(*, member: Member, reward_id: int) -> RewardExchange:
    """Exchange points for one reward. Raises RewardError: reward_not_found, not_eligible,
    out_of_stock, insufficient_points. Nothing is written when it raises."""
    reward = (
        Reward.objects.filter(pk=reward_id, active=True)
        .select_related("coupon_template")
        .prefetch_related("eligible_tiers")
        .first()
    )
    if reward is None:
        raise RewardError("reward_not_found", _("This reward is not offered."))
    if not _tier_allows(reward, member_tier(member)):
        raise RewardError("not_eligible", _("Your tier cannot exchange this reward."))
    if reward.stock is not None:
        taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
        if not taken:
            raise RewardError("out_of_stock", _("This reward is out of stock."))
    try:
        entry = points_redeem(
            member_id=member.pk,
            points=reward.points,
            reason=_("Exchanged for %(reward)s") % {"reward": reward.name},
        )
    except InsufficientPoints as exc:
        raise RewardError(
            "insufficient_points",
            _("Not enough points: %(reward)s costs %(points)d.")
            % {"reward": reward.name, "points": reward.points},
        ) from exc
    coupon = None
    if reward.kind == Reward.Kind.COUPON:
        coupon = _issue_coupon(member, reward)
    return RewardExchange.objects.create(
        reward=reward,
        member=member,
        points=reward.points,
        entry=entry,
        coupon=coupon,
        status=RewardExchange.Status.ISSUED if coupon else RewardExchange.Status.RESERVED,
        created_at=entry.occurred_at,
    )


def _issue_coupon(member: Member, reward: Reward) -> Coupon:
    template = reward.coupon_template
    assert template is not None
    reserved = (
        CouponTemplate.objects.filter(pk=template.pk, active=True)
        .filter(Q(total_quantity__isnull=True) | Q(total_quantity__gt=F("issued_count")))
        .update(issued_count=F("issued_count") + 1)
    )
    if not reserved:
        raise RewardError("out_of_stock", _("This reward is out of stock."))
    issued_at = timezone.now()
    valid_from, valid_until = template.validity(issued_at)
    if valid_until <= issued_at:
        raise RewardError("out_of_stock", _("This reward is out of stock."))
    return Coupon.objects.create(
        member=member,
        template=template,
        occasion=Occasion.POINTS_EXCHANGE,
        valid_from=valid_from,
        valid_until=valid_until,
        reason=_("Exchanged for %(points)d points") % {"points": reward.points},
        issued_at=issued_at,
    )
