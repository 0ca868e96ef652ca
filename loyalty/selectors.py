"""Reads of the loyalty state shared by pages, the API and other apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import Account, Tier

if TYPE_CHECKING:
    from members.models import Member


def base_tier() -> Tier | None:
    """The tier every member starts in (the one at 0 points)."""
    return Tier.objects.filter(min_points=0).first()


def member_tier(member: Member) -> Tier | None:
    """The member's current tier: the evaluated one, else the base tier."""
    account = Account.objects.select_related("tier").filter(member=member).first()
    if account is not None and account.tier is not None:
        return account.tier
    return base_tier()


def tier_ladder() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")
