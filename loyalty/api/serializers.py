from __future__ import annotations

from rest_framework import serializers

from loyalty.models import PointEntry, Tier


class EventAnswerEntrySerializer(serializers.Serializer):
    points = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PointEntry.Kind.choices)
    reason = serializers.CharField()


class EventAnswerSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    member = serializers.CharField()
    points = serializers.IntegerField()
    entries = EventAnswerEntrySerializer(many=True)
    balance = serializers.IntegerField()


class BatchResultSerializer(EventAnswerSerializer):
    """An event's answer with its status; an error result carries `code`, `detail` and
    `fields` (as the error body of POST /events/) instead of the answer's fields."""

    status = serializers.IntegerField(help_text="the HTTP status this event alone would get")
    code = serializers.CharField(required=False, help_text="on errors")
    detail = serializers.CharField(required=False)


class BatchAnswerSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)


class RedemptionSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    points = serializers.IntegerField(min_value=1, max_value=10_000_000)
    reason = serializers.CharField(max_length=200, required=False, default="")


class PointEntrySerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number", allow_null=True, default=None)

    class Meta:
        model = PointEntry
        fields = ["id", "kind", "points", "reason", "occurred_at", "order"]
        read_only_fields = fields


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
