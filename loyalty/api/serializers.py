from __future__ import annotations

from rest_framework import serializers

from loyalty.models import Tier


class TierRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["code", "name"]
        read_only_fields = fields


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = [
            "code",
            "name",
            "rank",
            "min_points",
            "discount_percent",
            "fast_refund_limit",
            "badge_colour",
            "description",
        ]
        read_only_fields = fields
