from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from loyalty.ledger.models import PointEntry
from loyalty.ledger.selectors import point_history, points_balance, points_expiring
from loyalty.tiers.selectors import member_tier_history, member_tier_status
from members.models import Member

PAGE_SIZE = 25


@login_required
def points(request: HttpRequest) -> HttpResponse:
    """The member's points history with the reason of every entry (filter by kind)."""
    member_id = int(request.user.pk or 0)
    kind = request.GET.get("kind", "")
    if kind not in PointEntry.Kind.values:
        kind = ""
    paginator = Paginator(point_history(member_id, kind or None), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "loyalty/points.html",
        {
            "page": page,
            "kind": kind,
            "kinds": PointEntry.Kind.choices,
            "balance": points_balance(member_id),
            "expiring": points_expiring(member_id),
        },
    )


@login_required
def tier(request: HttpRequest) -> HttpResponse:
    """The ladder with its thresholds and benefits, and the member's history of changes."""
    member = request.user
    assert isinstance(member, Member)
    return render(
        request,
        "loyalty/tier.html",
        {
            "member": member,
            "status": member_tier_status(member),
            "history": list(member_tier_history(member)),
        },
    )
