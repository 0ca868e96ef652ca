"""Reads of coupons shared by the wallet, the dashboard and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.coupons.models import Coupon, CouponTemplate, Occasion, normalize_code
from loyalty.ledger.models import Account
from members.models import Member

WALLET_TABS = ("available", "used", "expired")


def member_coupons(member: Member, tab: str | None = None) -> QuerySet[Coupon]:
    """The member's coupons, optionally one wallet tab, soonest to end first for the
    available ones and newest first otherwise."""
    coupons = Coupon.objects.filter(member=member).select_related("template")
    if tab == "available":
        return coupons.available().order_by("valid_until", "pk")  # type: ignore[attr-defined]
    if tab == "used":
        return coupons.used().order_by("-redeemed_at", "-pk")  # type: ignore[attr-defined]
    if tab == "expired":
        return coupons.expired().order_by("-valid_until", "-pk")  # type: ignore[attr-defined]
    return coupons.order_by("-issued_at", "-pk")


def coupons_expiring_soon(member: Member, days: int = 7) -> QuerySet[Coupon]:
    return (
        Coupon.objects.filter(member=member)
        .expiring_within(days)  # type: ignore[attr-defined]
        .select_related("template")
        .order_by("valid_until", "pk")
    )


def daily_templates_for(member: Member) -> QuerySet[CouponTemplate]:
    """The limited daily coupons the member's tier may claim, in one query (no account or no
    tier yet = the base tier, the one at 0 points)."""
    accounts = Account.objects.filter(member=member)
    return (
        CouponTemplate.objects.for_occasion(Occasion.DAILY_QUOTA)  # type: ignore[attr-defined]
        .filter(
            Q(eligible_tiers__isnull=True)
            | Q(eligible_tiers=Subquery(accounts.values("tier_id")[:1]))
            | (Q(eligible_tiers__min_points=0) & ~Exists(accounts.filter(tier__isnull=False)))
        )
        .distinct()
    )


def effective_status(coupon: Coupon, now: datetime | None = None) -> str:
    """The status a member sees: an available coupon past its end is expired already, even
    before the nightly job marks it."""
    now = now or timezone.now()
    if coupon.status == Coupon.Status.AVAILABLE and coupon.valid_until <= now:
        return Coupon.Status.EXPIRED
    return coupon.status


def coupon_refusal(
    coupon: Coupon | None,
    *,
    member_number: str,
    order_amount: Decimal,
    now: datetime,
    currency: str | None = None,
) -> tuple[str, str] | None:
    """Why this coupon cannot be used on this order, as (code, message); None if it can."""
    if coupon is None or coupon.member.number != member_number:
        # Another member's coupon answers as an unknown code: a guesser learns nothing.
        return "not_found", _("No coupon with this code.")
    if coupon.status == Coupon.Status.REDEEMED:
        return "used", _("This coupon was already used.")
    if coupon.status == Coupon.Status.VOID:
        return "void", _("This coupon was cancelled.")
    if coupon.status == Coupon.Status.EXPIRED or coupon.valid_until <= now:
        return "expired", _("This coupon has expired.")
    if coupon.valid_from > now:
        return "not_started", _("This coupon is not valid yet.")
    template = coupon.template
    if currency is not None and currency.upper() != template.currency:
        return "currency", _("This coupon is for orders in %(currency)s.") % {
            "currency": template.currency
        }
    if order_amount < template.min_order:
        return "min_amount", _("This coupon needs an order of at least %(amount)s %(cur)s.") % {
            "amount": template.min_order,
            "cur": template.currency,
        }
    return None


@dataclass(frozen=True)
class CouponCheck:
    valid: bool
    code: str | None
    detail: str
    discount: Decimal | None
    coupon: Coupon | None


def coupon_check(
    *,
    code: str,
    member_number: str,
    order_amount: Decimal,
    currency: str,
    now: datetime | None = None,
) -> CouponCheck:
    """Could this member use this code on this order, and for what discount? (No writes.)"""
    now = now or timezone.now()
    coupon = (
        Coupon.objects.select_related("member", "template")
        .filter(code=normalize_code(code))
        .first()
    )
    refusal = coupon_refusal(
        coupon, member_number=member_number, order_amount=order_amount, now=now, currency=currency
    )
    if refusal is not None:
        return CouponCheck(False, refusal[0], refusal[1], None, None)
    assert coupon is not None
    return CouponCheck(True, None, "", coupon.template.discount_for(order_amount), coupon)
