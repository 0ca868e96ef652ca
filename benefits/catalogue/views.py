"""The member's benefits page and the reward shop."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benefits.catalogue.benefits import member_benefits
from benefits.catalogue.rewards import RewardError, member_exchanges, reward_exchange, reward_offers
from members.models import Member


def _member(request: HttpRequest) -> Member:
    assert isinstance(request.user, Member)
    return request.user


@login_required
def benefits(request: HttpRequest) -> HttpResponse:
    """What the member's tier gives, with numbers and where each applies; all tiers compared."""
    mine = member_benefits(_member(request))
    return render(request, "benefits/benefits.html", {"mine": mine, "matrix": mine.matrix})


@login_required
def rewards(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    balance, offers = reward_offers(member)
    return render(
        request,
        "benefits/rewards.html",
        {"balance": balance, "offers": offers, "exchanges": member_exchanges(member)},
    )


@login_required
@require_POST
def exchange(request: HttpRequest, reward_id: int) -> HttpResponse:
    try:
        done = reward_exchange(member=_member(request), reward_id=reward_id)
    except RewardError as exc:
        messages.error(request, exc.message)
        return redirect("catalogue:rewards")
    if done.coupon is not None:
        messages.success(
            request,
            _("Exchanged! Your coupon %(code)s is in your wallet.") % {"code": done.coupon.code},
        )
    else:
        messages.success(
            request,
            _("Exchanged! %(reward)s is reserved for you.") % {"reward": done.reward.name},
        )
    return redirect("catalogue:rewards")
