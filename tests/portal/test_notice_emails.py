"""Every notice's email is recorded (`emailed_at`) and sent by the outbox's email subscriber,
once per notice however often its event is handed over; a refused message is retried by the
outbox, shown on its delivery, and blocks no other email. The path is the points-expiring
one (`points.expiring` events); the tier and coupon emails share the sender."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from core import outbox
from core.models import OutboxDelivery
from loyalty.ledger.models import PointLot
from loyalty.ledger.services import account_open, points_award, points_expiring_announce
from portal.models import Notice
from tests.concurrency import run_threads
from tests.factories import MemberFactory

TODAY = date(2026, 11, 10)
EMAIL = "portal.subscribers.points_expiring_email"
NOTICE = "portal.subscribers.points_expiring_notice"


def _expiring(count: int) -> list[Any]:
    """Members with a lot of 5 points expiring within the announcement's window."""
    members = []
    for _i in range(count):
        member = MemberFactory()
        account_open(member_id=member.pk)
        entry = points_award(member_id=member.pk, points=5, reason="order")
        PointLot.objects.filter(entry=entry).update(expires_on=date(2026, 12, 1))
        members.append(member)
    return members


class RefusingBackend(EmailBackend):
    """Refuses one address (a mailbox that no longer exists)."""

    def send_messages(self, messages: Any) -> int:
        if any("refused" in to for m in messages for to in m.to):
            raise ConnectionError("550 no such mailbox")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_each_lot_is_emailed_once_however_often_announced_and_dispatched() -> None:
    members = _expiring(3)
    outbox.dispatch()  # the set-up's own events
    assert points_expiring_announce(today=TODAY) == 3
    assert points_expiring_announce(today=TODAY) == 0  # announced once per lot
    outbox.dispatch()
    outbox.dispatch()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in members)
    assert all("5 points expire on" in m.body for m in mail.outbox)
    assert Notice.objects.filter(kind="points_expiring", emailed_at=None).count() == 0
    # the same events handed over again (a dispatcher killed after the commit cannot do this,
    # but a subscriber must not care): no second notice, no second email
    OutboxDelivery.objects.update(status="pending", next_attempt_at=timezone.now())
    outbox.dispatch()
    assert len(mail.outbox) == 3
    assert Notice.objects.filter(kind="points_expiring").count() == 3


@pytest.mark.django_db
def test_a_notice_already_emailed_is_not_emailed_again() -> None:
    (member,) = _expiring(1)
    lot = PointLot.objects.get(member=member)
    Notice.objects.create(  # told by an earlier version of the announcement
        member=member,
        kind="points_expiring",
        key=f"lot:{lot.pk}",
        params={"points": 5, "on": "2026-12-01"},
        emailed_at=timezone.now(),
    )
    points_expiring_announce(today=TODAY)
    outbox.dispatch()
    assert mail.outbox == []
    assert Notice.objects.filter(member=member).count() == 1


@pytest.mark.django_db
def test_one_refused_address_blocks_no_other_email_and_is_retried(settings: Any) -> None:
    members = _expiring(3)
    type(members[0]).objects.filter(pk=members[0].pk).update(email="refused@example.com")
    outbox.dispatch()
    settings.EMAIL_BACKEND = "tests.portal.test_notice_emails.RefusingBackend"
    points_expiring_announce(today=TODAY)
    outbox.dispatch()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in members[1:])
    refused = OutboxDelivery.objects.get(subscriber=EMAIL, event__member_id=members[0].pk)
    assert (refused.status, refused.attempts) == ("pending", 1)
    assert "550 no such mailbox" in refused.last_error  # shown in the admin
    assert list(Notice.objects.filter(emailed_at=None).values_list("member_id", flat=True)) == [
        members[0].pk
    ]
    # the mailbox is back: the retry sends it, once
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OutboxDelivery.objects.filter(pk=refused.pk).update(next_attempt_at=timezone.now())
    outbox.dispatch()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["refused@example.com", *(m.email for m in members[1:])]
    )
    assert Notice.objects.filter(emailed_at=None).count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
def test_two_dispatchers_at_once_send_each_email_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "DELIVERY_BATCH", 7)  # many small batches, interleaved
    members = _expiring(60)
    outbox.dispatch()
    points_expiring_announce(today=TODAY)
    assert outbox.fan_out() == 60  # every dispatcher finds deliveries from the start
    handled = run_threads(4, lambda _i: outbox.dispatch())
    # each event once per subscriber (the notice, the email, the webhooks' messages)
    assert sum(handled) == 60 * len(settings.OUTBOX_SUBSCRIBERS["points.expiring"])
    done = OutboxDelivery.objects.filter(subscriber__in=[NOTICE, EMAIL], status="done")
    assert done.count() == 120  # the notice and the email of each of the 60 events
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in members)
    assert Notice.objects.filter(emailed_at=None).count() == 0
