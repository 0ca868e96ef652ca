from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from core.api.fields import StrictInput
from loyalty.ledger.models import PointEntry
from loyalty.program.models import Tier


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


class BatchAppliedSerializer(EventAnswerSerializer):
    """An event of a batch that was applied (201) or had been (200: the stored answer)."""

    status = serializers.IntegerField(
        min_value=200, max_value=201, help_text="as POST /events/ would answer"
    )


class BatchRefusedSerializer(serializers.Serializer):
    """An event of a batch that was refused: its status and the error envelope."""

    status = serializers.IntegerField(
        min_value=400, max_value=499, help_text="as POST /events/ would answer"
    )
    id = serializers.CharField(required=False, help_text="the event's id, when it had one")
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.JSONField())  # type: ignore[assignment]


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="BatchResult",
        serializers=[BatchAppliedSerializer, BatchRefusedSerializer],
        resource_type_field_name=None,
    )
)
class BatchResultField(serializers.JSONField):
    """One result of a batch: applied, or refused."""


class BatchAnswerSerializer(serializers.Serializer):
    results = serializers.ListField(child=BatchResultField(), help_text="one per event, in order")


class RedemptionSerializer(StrictInput):
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
