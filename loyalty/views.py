from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from members.models import Member

from .selectors import member_tier_history, member_tier_status


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
