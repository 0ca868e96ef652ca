"""Template helpers for coupons: their value, why they were issued, and the dashboard card."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from benefits.coupons.selectors import coupons_expiring_soon
from core.clock import note_change_at, program_timezone
from members.models import Member

register = template.Library()


@register.simple_tag
def coupon_value(coupon_template: CouponTemplate) -> str:
    """ "5.00 USD off", "10% off" or "Free shipping", in the active language."""
    if coupon_template.kind == CouponTemplate.Kind.AMOUNT_OFF:
        return _("%(value)s %(currency)s off") % {
            "value": coupon_template.value,
            "currency": coupon_template.currency,
        }
    if coupon_template.kind == CouponTemplate.Kind.PERCENT_OFF:
        return _("%(value)s%% off") % {"value": coupon_template.value.normalize()}
    return _("Free shipping")


@register.simple_tag
def coupon_reason(coupon: Coupon) -> str:
    """Why the coupon was issued, in the active language."""
    occasion = Occasion(coupon.occasion)
    if occasion in (Occasion.BIRTHDAY, Occasion.ANNIVERSARY) and coupon.period:
        return f"{occasion.label} {coupon.period.year}"
    if occasion == Occasion.LEVEL_UP and coupon.tier_id:
        return _("Level-up reward: %(reason)s") % {"reason": coupon.reason}
    if occasion == Occasion.MANUAL:
        return str(coupon.reason)
    return f"{occasion.label}: {coupon.reason}"


@register.simple_tag
def expiring_coupons(member: Member, days: int = 7) -> list[Coupon]:
    """The member's available coupons ending within `days`. A day more is read so that the
    moment the next coupon enters the window is known (a cached dashboard then refreshes)."""
    now = timezone.now()
    horizon = now + timedelta(days=days)
    soon = []
    for coupon in coupons_expiring_soon(member, days + 1):
        if coupon.valid_until <= horizon:
            soon.append(coupon)
            note_change_at(coupon.valid_until)  # it leaves the list
        else:
            note_change_at(coupon.valid_until - timedelta(days=days))  # it enters the list
    note_change_at(now + timedelta(days=1))  # beyond what was read
    return soon


@register.simple_tag
def program_time_zone() -> ZoneInfo:
    """The program's time zone, for `{% timezone %}`: validity is shown in program time."""
    return program_timezone()
