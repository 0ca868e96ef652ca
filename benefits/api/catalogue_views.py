"""The benefits API for the checkout and customer service (API key) and the reward shop
for members (session)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits.catalogue.benefits import fast_refund_check, member_benefits
from benefits.catalogue.rewards import RewardError, reward_exchange, reward_offers
from core.api.errors import ApiError
from loyalty.ledger.selectors import points_balance
from loyalty.program.models import Tier
from members.api.permissions import IsIntegration, IsMember
from members.models import Member
from members.selectors import member_by_number

from .catalogue_serializers import (
    FastRefundAnswerSerializer,
    FastRefundRequestSerializer,
    MemberBenefitsSerializer,
    RewardExchangeSerializer,
    RewardListSerializer,
)

_EXCHANGE_STATUS = {
    "reward_not_found": 404,
    "not_eligible": 403,
    "out_of_stock": 409,
    "insufficient_points": 422,
}


def _member_or_404(number: str) -> Member:
    member = member_by_number(number)
    if member is None:
        raise ApiError(404, "member_not_found", "No member with this number.")
    return member


def _tier(tier: Tier | None) -> dict[str, str] | None:
    return {"code": tier.code, "name": tier.name} if tier is not None else None


def _money(value: Any) -> str | None:
    return f"{value:.2f}" if value is not None else None


class MemberBenefitsView(APIView):
    """A member's tier, level discount, fast-refund limit and every benefit, in one call."""

    permission_classes = [IsIntegration]

    @extend_schema(
        responses={
            200: MemberBenefitsSerializer,
            404: OpenApiResponse(description="member_not_found"),
        },
        tags=["benefits"],
    )
    def get(self, request: Request, number: str) -> Response:
        member = _member_or_404(number)
        mine = member_benefits(member)
        return Response(
            {
                "member": member.number,
                "tier": _tier(mine.tier),
                "discount_percent": _money(mine.discount_percent),
                "fast_refund_limit": _money(mine.fast_refund_limit),
                "currency": mine.matrix.currency,
                "benefits": {
                    line.benefit.code: {
                        "name": line.benefit.name,
                        "kind": line.benefit.kind,
                        "included": line.included,
                        "applies": line.applies if line.included else "",
                        "percent": _money(line.percent),
                        "limit": _money(line.limit),
                        "hours": line.hours,
                    }
                    for line in mine.lines
                },
            }
        )


class FastRefundView(APIView):
    """Does this order qualify for a fast refund, and what is the member's limit? No writes."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=FastRefundRequestSerializer,
        responses={
            200: FastRefundAnswerSerializer,
            400: OpenApiResponse(description="invalid"),
            404: OpenApiResponse(description="member_not_found"),
        },
        tags=["benefits"],
    )
    def post(self, request: Request, number: str) -> Response:
        payload = FastRefundRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        member = _member_or_404(number)
        answer = fast_refund_check(member=member, order_amount=data["order_amount"])
        return Response(
            {
                "member": member.number,
                "order_number": data["order_number"],
                "order_amount": _money(data["order_amount"]),
                "qualifies": answer.qualifies,
                "code": answer.code,
                "detail": answer.detail,
                "limit": _money(answer.limit),
                "currency": answer.currency,
                "tier": _tier(answer.tier),
            }
        )


def _me(request: Request) -> Member:
    assert isinstance(request.user, Member)
    return request.user


class MyRewardsView(APIView):
    """Every reward offered, with whether the member can exchange it now and why not."""

    permission_classes = [IsMember]

    @extend_schema(responses={200: RewardListSerializer}, tags=["me"])
    def get(self, request: Request) -> Response:
        balance, offers = reward_offers(_me(request))
        results = []
        for offer in offers:
            reward = offer.reward
            results.append(
                {
                    "id": reward.pk,
                    "name": reward.name,
                    "description": reward.description,
                    "kind": reward.kind,
                    "points": reward.points,
                    "stock": reward.stock,
                    "tiers": [t.code for t in reward.eligible_tiers.all()],
                    "available": offer.available,
                    "reason": offer.code,
                    "detail": offer.reason,
                }
            )
        return Response({"balance": balance, "results": results})


class MyRewardExchangeView(APIView):
    """Exchange points for a reward: the redemption entry, and the coupon issued or the item
    reserved, in one transaction."""

    permission_classes = [IsMember]

    @extend_schema(
        request=None,
        responses={
            201: RewardExchangeSerializer,
            403: OpenApiResponse(description="not_eligible"),
            404: OpenApiResponse(description="reward_not_found"),
            409: OpenApiResponse(description="out_of_stock"),
            422: OpenApiResponse(description="insufficient_points"),
        },
        tags=["me"],
    )
    def post(self, request: Request, reward_id: int) -> Response:
        member = _me(request)
        try:
            done = reward_exchange(member=member, reward_id=reward_id)
        except RewardError as exc:
            raise ApiError(_EXCHANGE_STATUS.get(exc.code, 422), exc.code, exc.message) from exc
        done.balance = points_balance(member.pk)  # type: ignore[attr-defined]
        return Response(RewardExchangeSerializer(done).data, status=status.HTTP_201_CREATED)
