"""The member's coupon wallet and the claim of a limited daily coupon."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benefits.coupons.models import Coupon
from benefits.coupons.selectors import WALLET_TABS, daily_templates_for, member_coupons
from benefits.coupons.services import CouponError, daily_coupon_claim
from members.models import Member


def _member(request: HttpRequest) -> Member:
    assert isinstance(request.user, Member)
    return request.user


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    tab = request.GET.get("tab", "available")
    if tab not in WALLET_TABS:
        tab = "available"
    now = timezone.now()
    live = Q(status=Coupon.Status.AVAILABLE, valid_until__gt=now)
    counts = Coupon.objects.filter(member=member).aggregate(
        available=Count("pk", filter=live),
        used=Count("pk", filter=Q(status=Coupon.Status.REDEEMED)),
        expired=Count(
            "pk",
            filter=Q(status__in=[Coupon.Status.EXPIRED, Coupon.Status.VOID])
            | Q(status=Coupon.Status.AVAILABLE, valid_until__lte=now),
        ),
    )
    tabs = [
        ("available", _("Available"), counts["available"]),
        ("used", _("Used"), counts["used"]),
        ("expired", _("Expired"), counts["expired"]),
    ]
    return render(
        request,
        "benefits/wallet.html",
        {
            "member": member,
            "tab": tab,
            "copyable": tab == "available",
            "tabs": tabs,
            "coupons": member_coupons(member, tab),
            "daily_templates": daily_templates_for(member),
        },
    )


@login_required
@require_POST
def claim_daily(request: HttpRequest, template_id: int) -> HttpResponse:
    try:
        coupon = daily_coupon_claim(member=_member(request), template_id=template_id)
    except CouponError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Claimed! Your coupon %(code)s is in your wallet.") % {"code": coupon.code}
        )
    return redirect("benefits:wallet")
