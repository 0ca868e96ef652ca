"""Every change of a coupon's state is a domain event, recorded in the transaction that makes
it (core.outbox): issued, redeemed, released, expired, voided; a refused change records
nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from benefits.coupons.services import (
    CouponError,
    coupon_redeem,
    coupon_release,
    coupons_expire,
    coupons_void,
)
from core.models import OutboxEvent
from members.services import api_key_create
from tests.benefits.coupons.factories import CouponFactory

pytestmark = pytest.mark.django_db


def _events(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=event_type).order_by("id"))


def test_a_redemption_and_its_release_are_recorded_with_the_order() -> None:
    key, _secret = api_key_create(name="checkout")
    coupon = CouponFactory()
    args: dict[str, Any] = {"api_key": key, "code": coupon.code, "order_number": "A-1"}
    coupon_redeem(
        request_id="r1", member_number=coupon.member.number, order_amount=Decimal("80"), **args
    )
    (redeemed,) = _events("coupon.redeemed")
    assert redeemed.member_id == coupon.member_id
    assert redeemed.subject == {
        "member": coupon.member.number,
        "coupon": coupon.pk,
        "template": coupon.template_id,
    }
    assert redeemed.data["status"] == "redeemed"
    assert (redeemed.data["order_number"], redeemed.data["order_amount"]) == ("A-1", "80")

    coupon_release(request_id="x1", **args)
    coupon_release(request_id="x1", **args)  # replayed: told once
    (released,) = _events("coupon.released")
    assert released.data["status"] == "available"
    assert released.member_seq == redeemed.member_seq + 1  # the member's order


def test_a_refused_redemption_records_nothing() -> None:
    key, _secret = api_key_create(name="checkout")
    coupon = CouponFactory(valid_until=timezone.now() - timedelta(minutes=1))
    with pytest.raises(CouponError):
        coupon_redeem(
            api_key=key,
            request_id="r1",
            code=coupon.code,
            member_number=coupon.member.number,
            order_amount=Decimal("80"),
            order_number="A-1",
        )
    assert not OutboxEvent.objects.exists()


def test_expiry_and_voids_are_recorded_once_each() -> None:
    past = CouponFactory(valid_until=timezone.now() - timedelta(minutes=1))
    current = CouponFactory()
    assert coupons_expire() == 1
    assert coupons_expire() == 0
    assert [e.subject["coupon"] for e in _events("coupon.expired")] == [past.pk]
    assert coupons_void(coupon_ids=[past.pk, current.pk]) == 1  # an expired one stays expired
    assert coupons_void(coupon_ids=[current.pk]) == 0
    assert [e.subject["coupon"] for e in _events("coupon.voided")] == [current.pk]
    assert _events("coupon.voided")[0].data["status"] == "void"


def test_an_event_vanishes_with_the_change_that_rolls_back() -> None:
    coupon = CouponFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        coupons_void(coupon_ids=[coupon.pk])
        raise RuntimeError("the caller fails after the void")
    assert not OutboxEvent.objects.exists()
    coupon.refresh_from_db()
    assert coupon.status == "available"
