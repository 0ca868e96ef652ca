"""Factories for brands, featured weeks, member events and sales."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from benefits.engagement.models import (
    Brand,
    FeaturedBrand,
    FeaturedBrandDiscount,
    MemberEvent,
    Sale,
    SaleEarlyAccess,
)
from loyalty.ledger.models import Account
from loyalty.program.models import Tier
from members.models import Member


def set_tier(member: Member, tier: Tier) -> None:
    Account.objects.update_or_create(member=member, defaults={"tier": tier})


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    code = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.Sequence(lambda n: f"Brand {n:03d}")
    categories = ""


class FeaturedBrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeaturedBrand

    brand = factory.SubFactory(BrandFactory)
    headline = ""


class FeaturedBrandDiscountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeaturedBrandDiscount

    percent = Decimal("5.00")


class MemberEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberEvent
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Event {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))
    rsvp_deadline = factory.LazyAttribute(lambda o: o.starts_at - timedelta(days=1))
    place = "Flagship store, Hangzhou"
    capacity = 5

    @factory.post_generation
    def tiers(self, create: bool, extracted: list[Tier] | None, **kwargs: object) -> None:
        if create and extracted:
            self.eligible_tiers.set(extracted)


class SaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sale

    title = factory.Sequence(lambda n: f"Sale {n}")
    public_start_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.public_start_at + timedelta(days=3))


class SaleEarlyAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SaleEarlyAccess

    hours = 24
