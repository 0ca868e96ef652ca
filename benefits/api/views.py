"""The checkout API (API key) and the coupon lists."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits.coupons import services
from benefits.coupons.models import Coupon
from benefits.coupons.selectors import WALLET_TABS, coupon_check, member_coupons
from core.api.errors import ApiError
from core.api.pagination import CursorPagination
from members.api.permissions import IsIntegration, IsMember
from members.models import ApiKey, Member
from members.selectors import member_by_number

from .serializers import (
    CouponListSerializer,
    CouponSerializer,
    RedeemRequestSerializer,
    RedemptionSerializer,
    ReleaseRequestSerializer,
    ReleaseSerializer,
    ValidateRequestSerializer,
    ValidateResponseSerializer,
)
from .throttles import CouponApiKeyThrottle, coupon_member_limit

# Refusals of a redemption: HTTP status by service error code.
_STATUS = {
    "coupon_not_found": 404,
    "redemption_not_found": 404,
    "coupon_used": 409,
    "id_conflict": 409,
}


def _api_error(exc: services.CouponError) -> ApiError:
    return ApiError(_STATUS.get(exc.code, 422), exc.code, exc.message)


def _api_key(request: Request) -> ApiKey:
    assert isinstance(request.auth, ApiKey)
    return request.auth


class CouponValidateView(APIView):
    """Could this member use this code on this order, and for what discount? Writes nothing."""

    permission_classes = [IsIntegration]
    throttle_classes = [CouponApiKeyThrottle]  # and the member's: coupon_member_limit

    @extend_schema(
        request=ValidateRequestSerializer,
        responses={
            200: ValidateResponseSerializer,
            429: OpenApiResponse(description="rate_limited"),
        },
        tags=["coupons"],
    )
    def post(self, request: Request) -> Response:
        payload = ValidateRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        coupon_member_limit(data["member"])
        check = coupon_check(
            code=data["code"],
            member_number=data["member"],
            order_amount=data["order_amount"],
            currency=data["currency"],
        )
        if not check.valid:
            return Response({"valid": False, "code": check.code, "detail": check.detail})
        return Response(
            {
                "valid": True,
                "discount": f"{check.discount:.2f}",
                "coupon": CouponSerializer(check.coupon).data,
            }
        )


class CouponRedeemView(APIView):
    """Redeem a coupon for an order. Idempotent by `id`: the same id again answers 200 with
    the first answer; a coupon already redeemed under another id is 409 `coupon_used`."""

    permission_classes = [IsIntegration]
    throttle_classes = [CouponApiKeyThrottle]  # and the member's: coupon_member_limit

    @extend_schema(
        request=RedeemRequestSerializer,
        responses={
            201: RedemptionSerializer,
            200: RedemptionSerializer,
            404: OpenApiResponse(description="coupon_not_found (also for another member's coupon)"),
            409: OpenApiResponse(description="coupon_used, id_conflict"),
            422: OpenApiResponse(
                description="coupon_expired, coupon_void, coupon_not_started, coupon_min_amount"
            ),
            429: OpenApiResponse(description="rate_limited"),
        },
        tags=["coupons"],
    )
    def post(self, request: Request) -> Response:
        payload = RedeemRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        coupon_member_limit(data["member"])
        try:
            redemption, created = services.coupon_redeem(
                api_key=_api_key(request),
                request_id=data["id"],
                code=data["code"],
                member_number=data["member"],
                order_number=data["order_number"],
                order_amount=data["order_amount"],
            )
        except services.CouponError as exc:
            raise _api_error(exc) from exc
        return Response(
            RedemptionSerializer(redemption).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CouponReleaseView(APIView):
    """Return a redeemed coupon to its member when the order is cancelled before shipping.
    Idempotent: releasing an order already released answers the same."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=ReleaseRequestSerializer,
        responses={
            200: ReleaseSerializer,
            404: OpenApiResponse(description="coupon_not_found, redemption_not_found"),
        },
        tags=["coupons"],
    )
    def post(self, request: Request) -> Response:
        payload = ReleaseRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            redemption = services.coupon_release(
                api_key=_api_key(request),
                request_id=data["id"],
                code=data["code"],
                order_number=data["order_number"],
            )
        except services.CouponError as exc:
            raise _api_error(exc) from exc
        redemption.coupon.refresh_from_db()
        return Response(ReleaseSerializer(redemption).data)


_STATUS_PARAM = OpenApiParameter(
    "status", str, enum=list(WALLET_TABS), required=False, description="One wallet tab."
)


class NewestCouponsFirst(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _listing(request: Request, member: Member) -> Response:
    tab = request.query_params.get("status")
    if tab is not None and tab not in WALLET_TABS:
        raise ApiError(
            400, "invalid", "Unknown status.", {"status": [f"One of {', '.join(WALLET_TABS)}."]}
        )
    coupons: QuerySet[Coupon] = member_coupons(member, tab)
    paginator = NewestCouponsFirst()
    page = paginator.paginate_queryset(coupons, request)
    return paginator.get_paginated_response(CouponSerializer(page, many=True).data)


class MemberCouponsView(APIView):
    """A member's coupons: any member for an API key, only one's own for a member."""

    permission_classes = [IsIntegration | IsMember]

    @extend_schema(
        parameters=[_STATUS_PARAM],
        responses={200: CouponListSerializer, 404: OpenApiResponse(description="member_not_found")},
        tags=["coupons"],
    )
    def get(self, request: Request, number: str) -> Response:
        member = member_by_number(number)
        if member is None or (not isinstance(request.auth, ApiKey) and member != request.user):
            raise ApiError(404, "member_not_found", "No member with this number.")
        return _listing(request, member)


class MyCouponsView(APIView):
    """The logged-in member's coupons (session)."""

    permission_classes = [IsMember]

    @extend_schema(parameters=[_STATUS_PARAM], responses={200: CouponListSerializer}, tags=["me"])
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, Member)
        return _listing(request, request.user)
