from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.selectors import points_balance, points_expiring
from members.models import Member


class ExpiringPointsSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    on = serializers.DateField()


class MemberSerializer(serializers.ModelSerializer):
    points_balance = serializers.SerializerMethodField()
    expiring_points = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = [
            "number",
            "email",
            "name",
            "joined_on",
            "birthday",
            "language",
            "points_balance",
            "expiring_points",
        ]
        read_only_fields = fields

    def get_points_balance(self, member: Member) -> int:
        return points_balance(member.pk)

    @extend_schema_field(ExpiringPointsSerializer(allow_null=True))
    def get_expiring_points(self, member: Member) -> dict[str, Any] | None:
        expiring = points_expiring(member.pk)
        if expiring is None:
            return None
        return {"points": expiring[0], "on": expiring[1].isoformat()}


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    joined_on = serializers.DateField(required=False, allow_null=True, default=None)
    language = serializers.ChoiceField(
        choices=Member.Language.choices, required=False, default=Member.Language.ENGLISH
    )
    marketing_consent = serializers.BooleanField(required=False, default=False)
