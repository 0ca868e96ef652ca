from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from loyalty.program.models import Tier


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n + 10)
    min_points = factory.Sequence(lambda n: (n + 1) * 1000)


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponTemplate
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Coupon {n}")
    kind = CouponTemplate.Kind.AMOUNT_OFF
    value = Decimal("5.00")
    currency = "USD"
    min_order = Decimal("10.00")
    valid_days = 30
    occasion = Occasion.MANUAL

    @factory.post_generation
    def tiers(self, create: bool, extracted: list[Tier] | None, **kwargs: object) -> None:
        if create and extracted:
            self.eligible_tiers.set(extracted)


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    member = factory.SubFactory("tests.factories.MemberFactory")
    template = factory.SubFactory(CouponTemplateFactory)
    occasion = Occasion.MANUAL
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    valid_until = factory.LazyFunction(lambda: timezone.now() + timedelta(days=29))
    reason = "Welcome gift"
