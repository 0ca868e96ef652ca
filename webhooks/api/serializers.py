from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from core.api.fields import StrictInput

from ..models import EVENT_TYPES, WebhookEndpoint
from ..safety import UnsafeUrl, url_check_registration


class EndpointSerializer(serializers.ModelSerializer):
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


class EndpointRequestSerializer(StrictInput):
    url = serializers.URLField(max_length=500, help_text="Where the events are POSTed.")
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
    url = serializers.URLField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="The event types to send; empty: every type.",
    )
