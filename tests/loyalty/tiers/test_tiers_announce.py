"""A tier change is announced through the outbox in the transaction that decides it (a job's
chunk, an instant upgrade, a floor): its level-up reward, inbox notice and email follow from
the outbox's subscribers, once each, whoever dispatches and however often; a mail server
that refuses is retried and shown, and loses nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.test import override_settings
from django.utils import timezone

from benefits.coupons.models import Coupon, Occasion
from core import outbox
from core.models import OutboxDelivery, OutboxEvent
from loyalty.tiers.models import TierChange
from loyalty.tiers.services import tiers_recalculate
from portal.models import Notice
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.concurrency import run_threads
from tests.loyalty.conftest import earn

UTC = ZoneInfo("UTC")
AS_OF = date(2026, 11, 30)
SUBSCRIBERS = {
    "benefits.coupons.subscribers.levelup_reward",
    "portal.subscribers.tier_notice",
    "portal.subscribers.tier_email",
}


@pytest.fixture
def promoted(ladder: Any, account_member: Any) -> list[Any]:
    """Three members who reach gold as of 30 November (one reads Chinese), one who drops to
    the base tier, and a level-up coupon for gold."""
    CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome to gold")
    members = [account_member(language=lang) for lang in ("en", "zh-hans", "en")]
    for member in members:
        earn(member, 150, datetime(2026, 11, 15, tzinfo=UTC))
    return members


def _counts(members: list[Any]) -> tuple[int, int, int]:
    return (
        Coupon.objects.filter(member__in=members).count(),
        Notice.objects.filter(member__in=members).count(),
        len(mail.outbox),
    )


def test_a_chunk_announces_its_changes_in_its_own_transaction(promoted: list[Any]) -> None:
    tiers_recalculate(as_of=AS_OF)
    changes = TierChange.objects.filter(period=date(2026, 11, 1))
    events = OutboxEvent.objects.filter(type="tier.changed").order_by("member_id")
    assert [e.subject["tier_change"] for e in events] == list(
        changes.order_by("member_id").values_list("pk", flat=True)
    )
    first = events[0]
    assert _counts(promoted) == (0, 0, 0)  # nothing is done before a dispatcher runs
    assert outbox.fan_out() == len(promoted)
    assert first.subject["member"] == promoted[0].number
    assert first.data["direction"] == "up" and first.data["to"]["code"] == "gold"
    assert first.data["period"] == "2026-11-01"
    for event in events:
        handed = event.deliveries.exclude(subscriber="webhooks.subscribers.enqueue")
        assert set(handed.values_list("subscriber", flat=True)) == SUBSCRIBERS

    tiers_recalculate(as_of=AS_OF)  # the period is done: nothing is announced twice
    assert OutboxEvent.objects.filter(type="tier.changed").count() == len(promoted)


def test_the_dispatcher_gives_each_reward_notice_and_email_once(promoted: list[Any]) -> None:
    tiers_recalculate(as_of=AS_OF)
    outbox.dispatch()
    # a coupon each; a tier notice and a coupon notice each; the tier email and the coupon's
    assert _counts(promoted) == (3, 6, 6)
    chinese = [m.body for m in mail.outbox if promoted[1].email in m.to]
    assert any("您已从" in body for body in chinese), chinese  # the tier email, in Chinese
    english = [m.body for m in mail.outbox if promoted[0].email in m.to]
    assert any("You moved up from" in body for body in english), english

    outbox.dispatch()
    OutboxDelivery.objects.update(status="pending")  # even handed over again (a redelivery)
    outbox.dispatch()
    assert _counts(promoted) == (3, 6, 6)


class DownBackend(locmem.EmailBackend):
    """A mail server that refuses everything."""

    def send_messages(self, messages: Any) -> int:
        raise ConnectionError("the mail server refused")


@override_settings(EMAIL_BACKEND="tests.loyalty.tiers.test_tiers_announce.DownBackend")
def test_a_refusing_mail_server_is_retried_and_shown_and_loses_nothing(
    promoted: list[Any],
) -> None:
    tiers_recalculate(as_of=AS_OF)
    outbox.dispatch()
    email = OutboxDelivery.objects.filter(subscriber="portal.subscribers.tier_email")
    assert set(email.values_list("status", flat=True)) == {"pending"}
    assert all("refused" in e for e in email.values_list("last_error", flat=True))
    # the reward and the notice did not wait for the mail server
    assert Coupon.objects.filter(member__in=promoted).count() == 3
    assert (
        Notice.objects.filter(member__in=promoted, kind="tier_changed", emailed_at=None).count()
        == 3
    )

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        outbox.retry(email)
        outbox.dispatch()
    assert set(email.values_list("status", flat=True)) == {"done"}
    tier_emails = [m for m in mail.outbox if "You moved up from" in m.body or "您已从" in m.body]
    assert len(tier_emails) == 3
    assert (
        Notice.objects.filter(member__in=promoted, kind="tier_changed", emailed_at=None).count()
        == 0
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_two_dispatchers_at_once_give_each_once(promoted: list[Any]) -> None:
    tiers_recalculate(as_of=AS_OF)
    run_threads(2, lambda _i: outbox.dispatch())
    # Two subscribers of one member may meet on the member's rows; the loser of a lock
    # conflict is rolled back whole and retried later (here: at once, as beat would).
    OutboxDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    outbox.dispatch()
    assert _counts(promoted) == (3, 6, 6)
    left = OutboxDelivery.objects.exclude(status="done")
    assert not left.exists(), list(left.values("subscriber", "attempts", "last_error"))
