"""The member inbox: notices of coupons, tier changes and points about to expire, and their
emails in the member's language.

Each notice is about one thing (`Notice.key`, unique per member): a rerun of any job that
creates notices inserts nothing new. Creation is set-based (INSERT ... ON CONFLICT DO
NOTHING); the rows really inserted are those stamped with this call's `created_at`.

Every notice has one email, recorded in `emailed_at`. A sender claims the notices it sends
under their row locks (`SELECT ... FOR UPDATE SKIP LOCKED` of rows not yet emailed), sends,
and sets `emailed_at` in the same transaction: two senders never send the same notice, and a
notice whose sender died is sent by the sweep (`notice_emails_sweep`, beat every 5 minutes).
Tier changes and coupons reach the inbox through the outbox (portal.subscribers): a notice
per `tier.changed` or announced `coupon.issued` event, and its email, each once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from benefits.coupons.models import Coupon
from core.mail import email_subject
from core.models import OutboxEvent
from loyalty.ledger.models import PointLot
from members.labels import label
from portal.models import Notice

logger = logging.getLogger(__name__)

Kind = Notice.Kind
EXPIRY_NOTICE_DAYS = 30
# The kinds emailed with the notice's own text; a coupon's notice is emailed by benefits
# (`benefits.services.coupon_notices_send`) with the coupon's text and how to use it.
EMAILED_KINDS = frozenset({Kind.TIER_CHANGED, Kind.POINTS_EXPIRING})
INSERT_BATCH = 1000
EMAIL_BATCH = 100
MAX_FAILURES = 3
# The sweeps leave the newest notices to the normal path (after commit) and give up on
# notices older than the window (a longer outage: `manage.py sweep_notices --since`).
SWEEP_GRACE = timedelta(minutes=5)
SWEEP_WINDOW = timedelta(days=2)

Render = Callable[[list[Notice]], dict[int, EmailMessage]]


def notice_text(notice: Notice) -> str:
    """The notice's sentence in the active language."""
    p: dict[str, Any] = notice.params or {}
    if notice.kind == Kind.COUPON_ISSUED:
        return _("A coupon was added to your wallet: %(name)s, code %(code)s.") % {
            "name": label(p.get("name", "")),
            "code": p.get("code", ""),
        }
    if notice.kind == Kind.TIER_CHANGED:
        day = parse_date(p.get("effective_on", ""))
        values = {
            "to": label(p.get("to", "")),
            "from": label(p.get("from", "")),
            "day": date_format(day, "DATE_FORMAT") if day else "",
        }
        if p.get("direction") == "up":
            return _("You moved up from %(from)s to %(to)s (effective %(day)s).") % values
        return _("Your tier changed from %(from)s to %(to)s (effective %(day)s).") % values
    if notice.kind == Kind.POINTS_EXPIRING:
        day = parse_date(p.get("on", ""))
        points = int(p.get("points", 0))
        return ngettext(
            "%(points)d point expires on %(day)s.",
            "%(points)d points expire on %(day)s.",
            points,
        ) % {"points": points, "day": date_format(day, "DATE_FORMAT") if day else ""}
    return str(notice.kind)


def _insert(rows: list[Notice]) -> list[int]:
    """Insert, skipping what each member was already told; the ids really inserted."""
    if not rows:
        return []
    stamp = timezone.now()
    for row in rows:
        row.created_at = stamp
    inserted: list[int] = []
    for start in range(0, len(rows), INSERT_BATCH):
        chunk = rows[start : start + INSERT_BATCH]
        Notice.objects.bulk_create(chunk, ignore_conflicts=True)
        inserted.extend(
            Notice.objects.filter(
                member_id__in={r.member_id for r in chunk},
                key__in=[r.key for r in chunk],
                created_at=stamp,
            ).values_list("pk", flat=True)
        )
    return inserted


def _email_after_commit(notice_ids: list[int]) -> None:
    if notice_ids:
        transaction.on_commit(lambda: notice_emails_send(notice_ids=notice_ids))


@transaction.atomic
def notices_coupon_issued(*, coupon_ids: Iterable[int]) -> int:
    """A notice per coupon issued (its email is `coupon_notice_emails_render`'s)."""
    link = reverse("benefits:wallet")
    coupons = Coupon.objects.filter(pk__in=list(coupon_ids)).values_list(
        "pk", "member_id", "code", "template__name", "valid_until"
    )
    rows = [
        Notice(
            member_id=member_id,
            kind=Kind.COUPON_ISSUED,
            key=f"coupon:{pk}",
            params={"code": code, "name": name, "valid_until": until.isoformat()},
            link=link,
        )
        for pk, member_id, code, name, until in coupons
    ]
    return len(_insert(rows))


def _notice_ids(events: list[OutboxEvent], keys: dict[int, str]) -> dict[int, int]:
    """{event pk: notice pk} of the notices under `keys` ({event pk: key}) of the events'
    members."""
    members = {e.pk: e.member_id for e in events if e.pk in keys and e.member_id is not None}
    rows = Notice.objects.filter(
        member_id__in=set(members.values()), key__in=set(keys.values())
    ).values_list("pk", "member_id", "key")
    found = {(member_id, key): pk for pk, member_id, key in rows}
    # a notice missing here is about a coupon that is gone: nothing to tell any more
    return {
        pk: found[(member, keys[pk])]
        for pk, member in members.items()
        if (member, keys[pk]) in found
    }


def notices_for_coupons(events: list[OutboxEvent]) -> dict[int, int]:
    """The notices of `coupon.issued` events, written if they are not there yet:
    {event pk: notice pk}."""
    keys = {e.pk: f"coupon:{int(e.subject['coupon'])}" for e in events}
    notices_coupon_issued(coupon_ids=[int(e.subject["coupon"]) for e in events])
    return _notice_ids(events, keys)


def _tier_key(data: dict[str, Any]) -> str:
    # One notice per change: an instant upgrade and an evaluation may share a period.
    return f"tier:{data['period']}:{data['kind']}:{data['to']['id']}"


def notices_for_tier_changes(events: list[OutboxEvent]) -> dict[int, int]:
    """The notices of `tier.changed` events, written if they are not there yet:
    {event pk: notice pk}."""
    link = reverse("loyalty:tier")
    _insert(
        [
            Notice(
                member_id=event.member_id,
                kind=Kind.TIER_CHANGED,
                key=_tier_key(event.data),
                params={
                    "from": event.data["from"]["name"],
                    "to": event.data["to"]["name"],
                    "direction": event.data["direction"],
                    "effective_on": event.data["effective_on"],
                },
                link=link,
            )
            for event in events
            if event.member_id is not None
        ]
    )
    return _notice_ids(events, {e.pk: _tier_key(e.data) for e in events})


def notice_emails_send_once(
    notices: dict[int, int], *, render: Render | None = None
) -> dict[int, Exception]:
    """Send the email of each notice ({key: notice pk}) not emailed yet, once: under the
    notices' row locks, stamped in the same transaction (the caller's, required). Returns the
    keys whose message the mail server refused, with why; their stamps are undone."""
    assert transaction.get_connection().in_atomic_block, "sent inside the caller's transaction"
    by_notice = {pk: key for key, pk in notices.items()}
    batch = list(
        Notice.objects.filter(pk__in=list(by_notice), emailed_at__isnull=True)
        .select_related("member")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    if not batch:
        return {}
    messages = (render or notice_emails_render)(batch)
    # Stamped before the sends: every lock the stamp takes (the dashboard's page version) is
    # held before a message leaves, so a lock conflict rolls back unsent emails.
    Notice.objects.filter(pk__in=[n.pk for n in batch]).update(emailed_at=timezone.now())
    refused: dict[int, Exception] = {}
    mail = get_connection()
    try:
        for notice in batch:
            message = messages.get(notice.pk)
            if message is None:  # nothing to tell any more (its coupon is gone)
                continue
            try:
                message.connection = mail
                message.send()
            except Exception as exc:  # refused, or the server went away: tried again later
                logger.warning("notice %s: email not sent: %s", notice.pk, exc)
                refused[by_notice[notice.pk]] = exc
                mail.close()
                mail = get_connection()
    finally:
        mail.close()
    if refused:
        Notice.objects.filter(pk__in=[notices[key] for key in refused]).update(emailed_at=None)
    return refused


@transaction.atomic
def notices_points_expiring(*, today: date, days: int = EXPIRY_NOTICE_DAYS) -> int:
    """A notice per point lot that expires within `days` of `today` (program-local), once
    per lot, emailed. Returns the number of notices created."""
    lots = PointLot.objects.filter(
        remaining__gt=0, expires_on__gte=today, expires_on__lte=today + timedelta(days=days)
    ).values_list("pk", "member_id", "remaining", "expires_on")
    link = reverse("loyalty:points")
    rows = [
        Notice(
            member_id=member_id,
            kind=Kind.POINTS_EXPIRING,
            key=f"lot:{pk}",
            params={"points": remaining, "on": expires_on.isoformat() if expires_on else ""},
            link=link,
        )
        for pk, member_id, remaining, expires_on in lots.iterator()
    ]
    inserted = _insert(rows)
    _email_after_commit(inserted)
    return len(inserted)


def notices_mark_read(*, member_id: int, notice_id: int | None = None) -> int:
    """Mark one notice (or all) of the member read; a guarded UPDATE, so it is idempotent."""
    unread = Notice.objects.filter(member_id=member_id, read_at__isnull=True)
    if notice_id is not None:
        unread = unread.filter(pk=notice_id)
    return unread.update(read_at=timezone.now())


def notice_emails_render(notices: list[Notice]) -> dict[int, EmailMessage]:
    """The email of each notice (its own text), in its member's language."""
    messages = {}
    for notice in notices:
        with translation.override(notice.member.language):
            context = {"notice": notice, "member": notice.member, "text": notice_text(notice)}
            subject = email_subject("members/email/notice_subject.txt", context)
            body = render_to_string("members/email/notice.txt", context)
        messages[notice.pk] = EmailMessage(
            " ".join(subject.split()), body, to=[notice.member.email]
        )
    return messages


def coupon_notice_emails_render(notices: list[Notice]) -> dict[int, EmailMessage]:
    """A coupon notice's email: the coupon and how to use it, in the member's language."""
    ids = {int(n.key.split(":", 1)[1]): n.pk for n in notices if n.key.startswith("coupon:")}
    coupons = Coupon.objects.filter(pk__in=list(ids)).select_related("member", "template")
    messages = {}
    for coupon in coupons:
        with translation.override(coupon.member.language):
            context = {"coupon": coupon, "member": coupon.member, "template": coupon.template}
            subject = email_subject("benefits/email/coupon_issued_subject.txt", context)
            body = render_to_string("benefits/email/coupon_issued.txt", context)
        messages[ids[coupon.pk]] = EmailMessage(
            " ".join(subject.split()), body, to=[coupon.member.email]
        )
    return messages


def _claim_and_send(notices: Any, after_pk: int) -> tuple[int, int | None, bool]:
    """One batch, one transaction: lock up to EMAIL_BATCH notices not yet emailed (skipping
    rows another sender holds), send them, record the ones sent. A refused message is left
    for a later sweep and the batch goes on (one bad address blocks nobody); after
    MAX_FAILURES refusals in a row (the mail server is away) the call stops. Returns (emails
    sent, the last pk seen or None when nothing was left, whether to stop)."""
    with transaction.atomic():
        batch = list(
            notices.filter(pk__gt=after_pk, emailed_at__isnull=True)
            .select_related("member")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")[:EMAIL_BATCH]
        )
        if not batch:
            return 0, None, False
        messages = notice_emails_render(batch)
        done: list[int] = []
        sent = failures = 0
        connection = get_connection()
        try:
            for notice in batch:
                message = messages.get(notice.pk)
                if message is None:  # nothing to tell any more (its coupon is gone)
                    done.append(notice.pk)
                    continue
                try:
                    message.connection = connection
                    message.send()
                except Exception:  # refused, or the server went away: a later sweep retries
                    logger.exception("notice %s: email not sent", notice.pk)
                    failures += 1
                    connection.close()
                    if failures >= MAX_FAILURES:
                        break
                    connection = get_connection()
                else:
                    failures = 0
                    done.append(notice.pk)
                    sent += 1
        finally:
            connection.close()
        Notice.objects.filter(pk__in=done).update(emailed_at=timezone.now())
    return sent, batch[-1].pk, failures >= MAX_FAILURES


def notice_emails_send(
    *,
    notice_ids: Collection[int] | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
) -> int:
    """Email the notices not yet emailed (of `EMAILED_KINDS`; these ids, or those created in
    [created_from, created_before)), each once, in the member's language. Returns the number
    of emails sent. A notice whose email failed stays for the sweep; a few failures in a row
    stop the call. Not one transaction: each batch commits its claims."""
    notices = Notice.objects.filter(kind__in=list(EMAILED_KINDS))
    if notice_ids is not None:
        notices = notices.filter(pk__in=list(notice_ids))
    if created_from is not None:
        notices = notices.filter(created_at__gte=created_from)
    if created_before is not None:
        notices = notices.filter(created_at__lt=created_before)
    total, after = 0, 0
    while True:
        sent, last, stop = _claim_and_send(notices, after)
        total += sent
        if last is None or stop:
            return total
        after = last


def notice_emails_sweep(*, now: datetime | None = None, since: datetime | None = None) -> int:
    """Beat (every 5 minutes): send the tier and points-expiring emails a killed worker lost
    (notices written 5 minutes to 2 days ago, or since `since`, never emailed). Safe to run
    twice and beside the normal path: each notice is claimed under its row lock."""
    now = now or timezone.now()
    return notice_emails_send(
        created_from=since or now - SWEEP_WINDOW, created_before=now - SWEEP_GRACE
    )
