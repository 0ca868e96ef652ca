from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from loyalty.earning import EVENT_TYPES
from loyalty.models import PointEntry, Program, Tier

MAX_BATCH = 500
# Shop clocks drift: an event up to this far "in the future" is accepted.
CLOCK_SKEW = timedelta(minutes=1)


class OrderReceivedSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.CharField(min_length=3, max_length=3)
    categories = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50, default=list
    )

    def validate_currency(self, value: str) -> str:
        currency = Program.load().currency
        if value.upper() != currency:
            raise serializers.ValidationError(
                _("Only %(currency)s is accepted.") % {"currency": currency}
            )
        return currency


class OrderRefSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)


class ReviewSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    product = serializers.CharField(max_length=100)


class PostSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100)


NESTED: dict[str, tuple[str, type[serializers.Serializer]]] = {
    "order.received": ("order", OrderReceivedSerializer),
    "order.returned": ("order", OrderRefSerializer),
    "order.fraud": ("order", OrderRefSerializer),
    "review.posted": ("review", ReviewSerializer),
    "club.posted": ("post", PostSerializer),
}


def _validate_occurred_at(value: Any) -> Any:
    now = timezone.now()
    if value > now + CLOCK_SKEW:
        raise serializers.ValidationError(_("This moment is in the future."))
    limit = Program.load().backdating_days
    if value < now - timedelta(days=limit):
        raise serializers.ValidationError(
            _("Events older than %(days)d days are not accepted.") % {"days": limit}
        )
    return value


class EventSerializer(serializers.Serializer):
    """One event; the part named after its type (`order`, `review`, `post`) is validated by
    the type's own serializer."""

    id = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    member = serializers.CharField(max_length=20)
    occurred_at = serializers.DateTimeField(validators=[_validate_occurred_at])
    order = serializers.JSONField(required=False, help_text="order.* events")
    returned_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="order.returned",
    )
    review = serializers.JSONField(required=False, help_text="review.posted")
    post = serializers.JSONField(required=False, help_text="club.posted")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name, nested_class = NESTED[attrs["type"]]
        raw = attrs.get(name)
        if raw is None:
            raise serializers.ValidationError({name: [_("This field is required.")]})
        nested = nested_class(data=raw)
        if not nested.is_valid():
            raise serializers.ValidationError({name: nested.errors})
        data: dict[str, Any] = {name: nested.validated_data}
        if attrs["type"] == "order.returned" and "returned_amount" in attrs:
            data["returned_amount"] = attrs["returned_amount"]
        attrs["data"] = data
        return attrs


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


class BatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=MAX_BATCH
    )


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
