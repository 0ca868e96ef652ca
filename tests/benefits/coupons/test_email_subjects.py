"""Email subjects are plain text: a name with & and quotes is sent as written."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import transaction

from benefits.coupons.models import Occasion
from benefits.coupons.services import coupons_announce
from benefits.engagement.events import event_rsvp, event_rsvp_cancel, event_seat_email_send
from core import outbox
from loyalty.program.models import Tier
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.benefits.engagement.factories import MemberEventFactory
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

NAME = 'H&M "VIP" <night>'


def test_a_coupon_emails_subject_is_plain_text(mailoutbox: list[Any]) -> None:
    coupon = CouponFactory(
        member=MemberFactory(),
        template=CouponTemplateFactory(name=NAME),
        occasion=Occasion.BIRTHDAY,
        period=date(2026, 1, 1),
    )
    with transaction.atomic():
        coupons_announce([coupon.pk])
    outbox.dispatch()
    assert mailoutbox[0].subject == f"A coupon for you: {NAME}"


def test_an_event_seat_emails_subject_is_plain_text(
    ladder: dict[str, Tier], mailoutbox: list[Any]
) -> None:
    event = MemberEventFactory(title=NAME, capacity=1)
    first, second = MemberFactory(), MemberFactory()
    event_rsvp(event_id=event.pk, member=first)
    waiting = event_rsvp(event_id=event.pk, member=second)
    event_rsvp_cancel(event_id=event.pk, member=first)
    assert event_seat_email_send(rsvp_id=waiting.pk) is True
    assert mailoutbox[0].subject == f"You have a seat: {NAME}"
