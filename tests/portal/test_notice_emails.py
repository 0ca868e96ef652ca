"""Every notice's email is recorded (`emailed_at`), claimed under row locks, and a lost one is
sent by the sweep, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from portal.models import Notice
from portal.notices import notice_emails_send, notice_emails_sweep
from tests.concurrency import run_threads
from tests.factories import MemberFactory


def _notices(count: int, *, age: timedelta, kind: str = Notice.Kind.TIER_CHANGED) -> list[int]:
    created = timezone.now() - age
    ids = []
    for i in range(count):
        notice = Notice.objects.create(
            member=MemberFactory(),
            kind=kind,
            key=f"tier:2026-11-01:evaluation:{i}",
            params={
                "from": "Silver",
                "to": "Gold",
                "direction": "up",
                "effective_on": "2026-12-01",
            },
            created_at=created,
        )
        ids.append(notice.pk)
    return ids


@pytest.mark.django_db
def test_sweep_sends_lost_emails_once_and_leaves_the_newest_to_the_normal_path() -> None:
    lost = _notices(2, age=timedelta(minutes=10))
    fresh = _notices(1, age=timedelta(minutes=1))
    Notice.objects.filter(pk__in=fresh).update(key="tier:fresh")
    old = _notices(1, age=timedelta(days=3))
    Notice.objects.filter(pk__in=old).update(key="tier:old")

    assert notice_emails_sweep() == 2
    assert notice_emails_sweep() == 0  # run twice: nothing more
    assert len(mail.outbox) == 2
    assert sorted(Notice.objects.exclude(emailed_at=None).values_list("pk", flat=True)) == lost
    # after a longer outage, from an earlier date
    assert notice_emails_sweep(since=timezone.now() - timedelta(days=4)) == 1
    assert len(mail.outbox) == 3
    assert Notice.objects.filter(emailed_at=None).count() == 1  # the fresh one


@pytest.mark.django_db
def test_a_notice_sent_by_the_normal_path_is_not_sent_again() -> None:
    ids = _notices(3, age=timedelta(minutes=10))
    assert notice_emails_send(notice_ids=ids) == 3
    assert notice_emails_send(notice_ids=ids) == 0
    assert notice_emails_sweep() == 0
    assert len(mail.outbox) == 3


class FlakyBackend(EmailBackend):
    """The locmem backend, refusing every message after `allowed` (a mail server that went
    away part-way)."""

    allowed = 1

    def send_messages(self, messages: Any) -> int:
        if len(mail.outbox) >= self.allowed:
            raise ConnectionError("the mail server went away")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_a_failed_send_is_retried_by_a_later_sweep(settings: Any) -> None:
    ids = _notices(3, age=timedelta(minutes=10))
    settings.EMAIL_BACKEND = "tests.portal.test_notice_emails.FlakyBackend"
    FlakyBackend.allowed = 1
    assert notice_emails_sweep() == 1
    assert Notice.objects.filter(emailed_at=None).count() == 2  # not marked: not sent
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notice_emails_sweep() == 2
    assert len(mail.outbox) == 3
    assert sorted(mail.outbox[i].to[0] for i in range(3)) == sorted(
        Notice.objects.filter(pk__in=ids).values_list("member__email", flat=True)
    )


class RefusingBackend(EmailBackend):
    """Refuses one address (a mailbox that no longer exists)."""

    def send_messages(self, messages: Any) -> int:
        if any("refused" in to for m in messages for to in m.to):
            raise ConnectionError("550 no such mailbox")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_one_refused_address_blocks_no_other_email(settings: Any) -> None:
    ids = _notices(3, age=timedelta(minutes=10))
    first = Notice.objects.get(pk=ids[0])
    type(first.member).objects.filter(pk=first.member_id).update(email="refused@example.com")
    settings.EMAIL_BACKEND = "tests.portal.test_notice_emails.RefusingBackend"
    assert notice_emails_sweep() == 2
    assert notice_emails_sweep() == 0
    assert list(Notice.objects.filter(emailed_at=None).values_list("pk", flat=True)) == [ids[0]]
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_never_send_the_same_notice() -> None:
    ids = _notices(60, age=timedelta(minutes=10))
    sent = run_threads(4, lambda _i: notice_emails_sweep())
    assert sum(sent) == 60
    assert len(mail.outbox) == 60
    assert len({m.to[0] for m in mail.outbox}) == 60
    assert Notice.objects.filter(pk__in=ids, emailed_at=None).count() == 0
