from __future__ import annotations

from rest_framework import serializers

from members.models import Member


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = ["number", "email", "name", "joined_on", "birthday", "language"]
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    joined_on = serializers.DateField(required=False, allow_null=True, default=None)
    language = serializers.ChoiceField(
        choices=Member.Language.choices, required=False, default=Member.Language.ENGLISH
    )
    marketing_consent = serializers.BooleanField(required=False, default=False)
