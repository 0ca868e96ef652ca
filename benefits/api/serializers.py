from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from benefits.coupons.models import Coupon, CouponRedemption
from benefits.coupons.selectors import effective_status
from benefits.templatetags.benefits import coupon_reason
from core.api.fields import MemberNumberField, StrictInput


class CouponSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="template.name", read_only=True)
    kind = serializers.CharField(source="template.kind", read_only=True)
    value = serializers.DecimalField(
        source="template.value", max_digits=12, decimal_places=2, read_only=True
    )
    currency = serializers.CharField(source="template.currency", read_only=True)
    min_order = serializers.DecimalField(
        source="template.min_order", max_digits=12, decimal_places=2, read_only=True
    )
    how_to_use = serializers.CharField(source="template.description", read_only=True)
    status = serializers.SerializerMethodField()
    why = serializers.SerializerMethodField()

    class Meta:
        model = Coupon
        fields = [
            "code",
            "name",
            "status",
            "kind",
            "value",
            "currency",
            "min_order",
            "valid_from",
            "valid_until",
            "occasion",
            "why",
            "how_to_use",
            "issued_at",
            "redeemed_at",
            "order_number",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Coupon.Status.choices))
    def get_status(self, coupon: Coupon) -> str:
        return effective_status(coupon)

    def get_why(self, coupon: Coupon) -> str:
        return coupon_reason(coupon)


class CouponListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page (cursor), or null.")
    previous = serializers.URLField(allow_null=True)
    results = CouponSerializer(many=True)


class ValidateRequestSerializer(StrictInput):
    code = serializers.CharField(max_length=40)
    member = MemberNumberField()
    order_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3)


class ValidateResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    code = serializers.ChoiceField(
        required=False,
        choices=[
            "not_found",
            "used",
            "void",
            "expired",
            "not_started",
            "currency",
            "min_amount",
        ],
        help_text="Why the coupon cannot be used (only when valid is false). Another member's"
        " coupon answers `not_found`, as an unknown code does.",
    )
    detail = serializers.CharField(required=False)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    coupon = CouponSerializer(required=False)


class RedeemRequestSerializer(StrictInput):
    id = serializers.CharField(max_length=64, help_text="Your idempotency key for this request.")
    code = serializers.CharField(max_length=40)
    member = MemberNumberField()
    order_number = serializers.CharField(max_length=64)
    order_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))


class RedemptionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="request_id")
    code = serializers.CharField(source="coupon.code")
    member = serializers.CharField(source="coupon.member.number")
    currency = serializers.CharField(source="coupon.template.currency")

    class Meta:
        model = CouponRedemption
        fields = [
            "id",
            "code",
            "member",
            "order_number",
            "order_amount",
            "discount",
            "currency",
            "redeemed_at",
        ]
        read_only_fields = fields


class ReleaseRequestSerializer(StrictInput):
    id = serializers.CharField(max_length=64)
    code = serializers.CharField(max_length=40)
    order_number = serializers.CharField(max_length=64)


class ReleaseSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="release_id")
    code = serializers.CharField(source="coupon.code")
    redemption_id = serializers.CharField(source="request_id")
    status = serializers.SerializerMethodField()

    class Meta:
        model = CouponRedemption
        fields = ["id", "code", "order_number", "redemption_id", "released_at", "status"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Coupon.Status.choices))
    def get_status(self, redemption: CouponRedemption) -> str:
        return effective_status(redemption.coupon)
