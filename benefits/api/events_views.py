"""The brand of the week for a date, and the sales open to a member now."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits.engagement.brands import featured_brand_for
from benefits.engagement.sales import sales_open_to
from core.api.errors import ApiError
from core.clock import program_today
from loyalty.ledger.selectors import member_tier
from members.api.permissions import IsIntegration, IsMember
from members.models import Member
from members.selectors import member_by_number

from .events_serializers import (
    EarlyAccessSerializer,
    FeaturedBrandQuerySerializer,
    FeaturedBrandSerializer,
)


class FeaturedBrandView(APIView):
    """The brand of the week that contains `date` and each tier's extra discount on it."""

    permission_classes = [IsIntegration | IsMember]

    @extend_schema(
        parameters=[FeaturedBrandQuerySerializer],
        responses={
            200: FeaturedBrandSerializer,
            400: OpenApiResponse(description="invalid: date"),
            404: OpenApiResponse(description="no_featured_brand"),
        },
        tags=["benefits"],
    )
    def get(self, request: Request) -> Response:
        query = FeaturedBrandQuerySerializer(data=request.query_params.dict())  # "" is no date
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date") or program_today()
        member = request.user if isinstance(request.user, Member) else None
        tier = member_tier(member) if member is not None else None
        offer = featured_brand_for(day, tier)
        if offer is None:
            raise ApiError(404, "no_featured_brand", f"No brand is featured in the week of {day}.")
        body: dict[str, Any] = {
            "week_start": offer.featured.week_start,
            "week_end": offer.featured.week_end,
            "headline": offer.featured.headline,
            "brand": offer.brand,
            "discounts": offer.discounts,
            "your_discount": offer.discount,
        }
        return Response(FeaturedBrandSerializer(body).data)


class MemberEarlyAccessView(APIView):
    """The sales this member can shop now: early (their tier's early access) or public."""

    permission_classes = [IsIntegration]

    @extend_schema(
        responses={
            200: EarlyAccessSerializer,
            404: OpenApiResponse(description="member_not_found"),
        },
        tags=["benefits"],
    )
    def get(self, request: Request, number: str) -> Response:
        member = member_by_number(number)
        if member is None:
            raise ApiError(404, "member_not_found", "No member with this number.")
        tier = member_tier(member)
        now = timezone.now()
        windows = sales_open_to(tier.pk if tier is not None else None, now)
        body = {
            "member": member.number,
            "tier": tier.code if tier is not None else None,
            "at": now,
            "results": windows,
        }
        return Response(EarlyAccessSerializer(body).data)
