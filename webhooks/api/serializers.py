from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from core.api.fields import StrictInput

from ..models import EVENT_TYPES, WebhookAttempt, WebhookEndpoint, WebhookMessage
from ..safety import UnsafeUrl, url_check_registration


class EndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="Where the events are POSTed.")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "disabled_reason",
            "disabled_at",
            "created_at",
        ]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_...`): shown in this answer only.",
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page (cursor), or null.")
    previous = serializers.URLField(allow_null=True)
    results = EndpointSerializer(many=True)


# What the API takes as an endpoint's URL, exactly (the schema says it): http(s), a host name
# or IPv4 address, an optional port, a path and query of printable ASCII.
PORT = r"(6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})"
URL = rf"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{{0,252}})(?::{PORT})?(?:[/?][!-~]*)?$"
URL_HELP = "Where the events are POSTed: http(s)://host[:port][/path] (https in production)."


class EndpointRequestSerializer(StrictInput):
    url = serializers.RegexField(URL, max_length=500, help_text=URL_HELP)
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        default=list,
        max_length=len(EVENT_TYPES),
        help_text="The event types to send; empty or absent: every type.",
    )

    def validate_url(self, value: str) -> str:
        try:
            url_check_registration(value)
        except UnsafeUrl as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and "url" not in attrs:
            raise serializers.ValidationError({"url": [_("This field is required.")]})
        return attrs


class EndpointPatchSerializer(EndpointRequestSerializer):
    url = serializers.RegexField(URL, max_length=500, required=False, help_text=URL_HELP)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="The event types to send; empty: every type.",
    )


class MessageSerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(source="event.event_id", read_only=True)
    type = serializers.CharField(source="event.type", read_only=True)
    occurred_at = serializers.DateTimeField(source="event.occurred_at", read_only=True)

    class Meta:
        model = WebhookMessage
        fields = [
            "id",
            "webhook_id",
            "type",
            "occurred_at",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class MessageListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page (cursor), or null.")
    previous = serializers.URLField(allow_null=True)
    results = MessageSerializer(many=True)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "latency_ms", "response", "error"]
        read_only_fields = fields
        extra_kwargs = {
            "status_code": {"help_text": "The receiver's answer; null when none came."},
            "response": {"help_text": "The first 1,000 characters of the answer's body."},
            "error": {"help_text": "Why no answer came (a timeout, a refused address...)."},
        }


class MessageDetailSerializer(MessageSerializer):
    attempts_made = AttemptSerializer(
        many=True,
        read_only=True,
        source="recent_attempts",
        help_text="Its tries, newest first (the latest 100).",
    )

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "attempts_made"]
        read_only_fields = fields


class ReplaySerializer(StrictInput):
    since = serializers.DateTimeField(
        help_text="Send again every event of the endpoint's types that occurred at or after "
        "this moment (ISO 8601; not in the future)."
    )


class ReplayResultSerializer(serializers.Serializer):
    messages = serializers.IntegerField(help_text="How many messages are due now.")
