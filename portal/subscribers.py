"""What the member center does when other parts of the program report an event
(core.outbox): the inbox notice, and its email in the member's language. Each is idempotent
under the notice's key (one notice per member and thing) and its `emailed_at` stamp."""

from __future__ import annotations

from core.models import OutboxEvent
from portal.notices import (
    coupon_notice_emails_render,
    notice_email_send,
    notice_for_coupon,
    notice_for_tier_change,
)


def tier_notice(event: OutboxEvent) -> None:
    """tier.changed: the notice in the member's inbox."""
    notice_for_tier_change(event)


def tier_email(event: OutboxEvent) -> None:
    """tier.changed: the notice's email (the notice is written first if it is not there yet).
    A mail server that refuses raises: the outbox tries again later and shows the error."""
    notice_email_send(notice_id=notice_for_tier_change(event).pk)


def coupon_notice(event: OutboxEvent) -> None:
    """coupon.issued: the notice in the member's inbox, for a coupon the member is told of."""
    if event.data["announced"]:
        notice_for_coupon(event)


def coupon_email(event: OutboxEvent) -> None:
    """coupon.issued: the email of an announced coupon (its notice written first if missing),
    with the coupon's text and how to use it, in the member's language."""
    if event.data["announced"]:
        notice_email_send(notice_id=notice_for_coupon(event).pk, render=coupon_notice_emails_render)
