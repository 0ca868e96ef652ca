from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import StrictInput
from loyalty.api.serializers import TierRefSerializer
from loyalty.ledger.selectors import member_account, member_points_expiring
from loyalty.tiers.selectors import TierStatus, member_tier_status
from members.models import Member


class ExpiringPointsSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    on = serializers.DateField()


class MemberSerializer(serializers.ModelSerializer):
    points_balance = serializers.SerializerMethodField()
    expiring_points = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
    qualifying_points = serializers.SerializerMethodField()
    next_tier = serializers.SerializerMethodField()
    points_to_next_tier = serializers.SerializerMethodField()
    tier_effective_on = serializers.SerializerMethodField()

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
            "tier",
            "qualifying_points",
            "next_tier",
            "points_to_next_tier",
            "tier_effective_on",
        ]
        read_only_fields = fields

    def get_points_balance(self, member: Member) -> int:
        account = member_account(member)  # one query for balance, next expiry and tier
        return account.balance if account is not None else 0

    @extend_schema_field(ExpiringPointsSerializer(allow_null=True))
    def get_expiring_points(self, member: Member) -> dict[str, Any] | None:
        expiring = member_points_expiring(member)
        if expiring is None:
            return None
        return {"points": expiring[0], "on": expiring[1].isoformat()}

    def _tier_status(self, obj: Member) -> TierStatus:
        cache: dict[Any, TierStatus] = self.__dict__.setdefault("_tier_statuses", {})
        if obj.pk not in cache:
            cache[obj.pk] = member_tier_status(obj)
        return cache[obj.pk]

    @extend_schema_field(TierRefSerializer(allow_null=True))
    def get_tier(self, obj: Member) -> dict[str, Any] | None:
        tier = self._tier_status(obj).tier
        return TierRefSerializer(tier).data if tier is not None else None

    def get_qualifying_points(self, obj: Member) -> int:
        return self._tier_status(obj).qualifying_points

    @extend_schema_field(TierRefSerializer(allow_null=True))
    def get_next_tier(self, obj: Member) -> dict[str, Any] | None:
        tier = self._tier_status(obj).next_tier
        return TierRefSerializer(tier).data if tier is not None else None

    def get_points_to_next_tier(self, obj: Member) -> int | None:
        return self._tier_status(obj).points_to_next_tier

    def get_tier_effective_on(self, obj: Member) -> date | None:
        return self._tier_status(obj).tier_effective_on


class MemberCreateSerializer(StrictInput):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    joined_on = serializers.DateField(required=False, allow_null=True, default=None)
    language = serializers.ChoiceField(
        choices=Member.Language.choices, required=False, default=Member.Language.ENGLISH
    )
    marketing_consent = serializers.BooleanField(required=False, default=False)
