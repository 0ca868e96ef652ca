"""The member inbox: notices of coupons, tier changes and points about to expire, and their
emails in the member's language.

Every notice reaches the inbox through the outbox (portal.subscribers): one per
`tier.changed`, announced `coupon.issued` and `points.expiring` event. Each notice is about
one thing (`Notice.key`, unique per member): a second hand-over of the same event inserts
nothing new. Creation is set-based (INSERT ... ON CONFLICT DO NOTHING).

Every notice has one email, recorded in `emailed_at`: the email subscriber locks the batch's
notices not emailed yet, stamps them, sends, and undoes the stamp of a message the mail
server refused (the outbox retries that one later). All of it commits with the delivery's
"done", so a dispatcher killed before its commit leaves the emails to send again: at least
once, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import suppress
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
from members.labels import label
from portal.models import Notice
from portal.page_versions import versions_kept

logger = logging.getLogger(__name__)

Kind = Notice.Kind
INSERT_BATCH = 1000

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
    sent_at = timezone.now()
    # Stamped before the sends, so a kill after a send leaves at most this batch to send
    # again; the stamp shows on no page, so it takes no member's page-version lock (the
    # earning path takes those) while the messages go out.
    with versions_kept():
        Notice.objects.filter(pk__in=[n.pk for n in batch]).update(emailed_at=sent_at)
    refused: dict[int, Exception] = {}
    mail = get_connection()
    try:
        mail.open()  # one connection for the batch, not one per message
    except Exception as exc:  # the mail server is away: every message waits for a retry
        logger.warning("notice emails: no connection to the mail server: %s", exc)
        refused = {by_notice[n.pk]: exc for n in batch if n.pk in messages}
    else:
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
                with suppress(Exception):
                    mail.close()
                mail = get_connection()
                with suppress(Exception):
                    mail.open()
    finally:
        with suppress(Exception):  # nothing may raise after a message left (ADR 0019)
            mail.close()
    if refused:
        with versions_kept():
            Notice.objects.filter(pk__in=[notices[key] for key in refused]).update(emailed_at=None)
    return refused


def notices_for_expiring_points(events: list[OutboxEvent]) -> dict[int, int]:
    """The notices of `points.expiring` events (one per lot), written if they are not there
    yet: {event pk: notice pk}."""
    link = reverse("loyalty:points")
    _insert(
        [
            Notice(
                member_id=event.member_id,
                kind=Kind.POINTS_EXPIRING,
                key=_lot_key(event),
                params={"points": event.data["points"], "on": event.data["expires_on"]},
                link=link,
            )
            for event in events
            if event.member_id is not None
        ]
    )
    return _notice_ids(events, {e.pk: _lot_key(e) for e in events})


def _lot_key(event: OutboxEvent) -> str:
    return f"lot:{int(event.subject['lot'])}"


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
