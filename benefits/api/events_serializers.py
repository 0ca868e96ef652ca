"""Serializers of the brand-of-the-week and early-access answers."""

from __future__ import annotations

from rest_framework import serializers


class BrandSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    website = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField(), source="category_list")


class TierDiscountSerializer(serializers.Serializer):
    tier = serializers.CharField(source="tier.code")
    tier_name = serializers.CharField(source="tier.name")
    percent = serializers.DecimalField(max_digits=5, decimal_places=2)


class FeaturedBrandQuerySerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Default: today (program time).")


class FeaturedBrandSerializer(serializers.Serializer):
    week_start = serializers.DateField()
    week_end = serializers.DateField()
    headline = serializers.CharField()
    brand = BrandSerializer()
    discounts = TierDiscountSerializer(many=True)
    your_discount = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="A member's session: their tier's extra discount (null: none). "
        "Always null for an API key.",
    )


class SaleWindowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="sale.pk")
    title = serializers.CharField(source="sale.title")
    brand = serializers.CharField(source="sale.brand.code", allow_null=True, default=None)
    public_start = serializers.DateTimeField(source="sale.public_start_at")
    ends_at = serializers.DateTimeField(source="sale.ends_at")
    opens_at = serializers.DateTimeField(help_text="When the sale opened for this member.")
    early_access = serializers.BooleanField(source="early")
    early_hours = serializers.IntegerField()


class EarlyAccessSerializer(serializers.Serializer):
    member = serializers.CharField()
    tier = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    results = SaleWindowSerializer(many=True)
