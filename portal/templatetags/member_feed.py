"""The dashboard's short feed of what happened: points, coupons issued, tier changes."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import CharField, F, IntegerField, Value
from django.db.models.functions import Concat

from benefits.coupons.models import Coupon
from loyalty.ledger.models import PointEntry
from loyalty.tiers.models import TierChange
from members.models import Member

register = template.Library()

FEED_SIZE = 6


@register.simple_tag
def member_feed(member: Member, size: int = FEED_SIZE) -> list[dict[str, Any]]:
    """The member's latest `size` happenings, newest first, in ONE query (a UNION ALL of the
    ledger, the coupons and the tier changes), however long the history."""
    columns = ("what", "at", "text", "points", "ref")
    entries = (
        PointEntry.objects.filter(member_id=member.pk)
        .annotate(
            what=Concat(Value("points_"), F("kind"), output_field=CharField()),
            at=F("occurred_at"),
            text=F("reason"),
            ref=F("pk"),
        )
        .order_by()
        .values_list(*columns)
    )
    coupons = (
        Coupon.objects.filter(member_id=member.pk)
        .annotate(
            what=Value("coupon", output_field=CharField()),
            at=F("issued_at"),
            text=F("template__name"),
            points=Value(0, output_field=IntegerField()),
            ref=F("pk"),
        )
        .order_by()
        .values_list(*columns)
    )
    changes = (
        TierChange.objects.filter(member_id=member.pk)
        .annotate(
            what=Concat(Value("tier_"), F("direction"), output_field=CharField()),
            at=F("created_at"),
            text=F("to_tier__name"),
            points=F("qualifying_points"),
            ref=F("pk"),
        )
        .order_by()
        .values_list(*columns)
    )
    rows = entries.union(coupons, changes, all=True).order_by("-at", "-ref")[:size]
    return [dict(zip(columns, row, strict=True)) for row in rows]
