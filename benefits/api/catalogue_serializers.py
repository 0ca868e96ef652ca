"""Serializers of the benefit catalogue and the reward shop."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from benefits.catalogue.models import Reward, RewardExchange
from core.api.fields import StrictInput
from loyalty.api.serializers import TierRefSerializer

from .serializers import CouponSerializer


class BenefitValueSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    included = serializers.BooleanField()
    applies = serializers.CharField(help_text="Where it applies, with the tier's numbers.")
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    hours = serializers.IntegerField(allow_null=True)


class MemberBenefitsSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="The member's public number.")
    tier = TierRefSerializer(allow_null=True)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    fast_refund_limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    benefits = serializers.DictField(
        child=BenefitValueSerializer(), help_text="One entry per benefit code."
    )


class FastRefundRequestSerializer(StrictInput):
    order_number = serializers.CharField(max_length=64)
    order_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )


class FastRefundAnswerSerializer(serializers.Serializer):
    member = serializers.CharField()
    order_number = serializers.CharField()
    order_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    qualifies = serializers.BooleanField()
    code = serializers.ChoiceField(choices=["qualifies", "not_in_tier", "over_limit"])
    detail = serializers.CharField()
    limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    tier = TierRefSerializer(allow_null=True)


class RewardSerializer(serializers.ModelSerializer):
    # Plain strings (not enums): spectacular would otherwise collide with other "kind" enums.
    kind = serializers.CharField(help_text="coupon or merchandise")
    available = serializers.BooleanField(help_text="The member can exchange it now.")
    reason = serializers.ChoiceField(
        choices=["available", "not_eligible", "out_of_stock", "insufficient_points"]
    )
    detail = serializers.CharField(help_text="Why not, for the member (empty when available).")
    tiers = serializers.ListField(child=serializers.CharField(), help_text="Empty: every tier.")

    class Meta:
        model = Reward
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "points",
            "stock",
            "tiers",
            "available",
            "reason",
            "detail",
        ]
        read_only_fields = fields


class RewardListSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    results = RewardSerializer(many=True)


class RewardExchangeSerializer(serializers.ModelSerializer):
    reward = serializers.CharField(source="reward.name")
    coupon = CouponSerializer(allow_null=True)
    balance = serializers.IntegerField(help_text="The member's balance after the exchange.")
    status = serializers.CharField(help_text="issued (a coupon) or reserved (merchandise)")

    class Meta:
        model = RewardExchange
        fields = ["id", "reward", "points", "status", "created_at", "coupon", "balance"]
        read_only_fields = fields
