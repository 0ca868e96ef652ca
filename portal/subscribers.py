"""What the member center does when other parts of the program report an event
(core.outbox): the inbox notice, and its email in the member's language. Each takes a batch of
events and is idempotent under the notice's key (one notice per member and thing) and its
`emailed_at` stamp."""

from __future__ import annotations

from core.models import OutboxEvent
from portal.notices import (
    coupon_notice_emails_render,
    notice_emails_send_once,
    notices_for_coupons,
    notices_for_expiring_points,
    notices_for_tier_changes,
)


def tier_notice(events: list[OutboxEvent]) -> None:
    """tier.changed: the notice in the member's inbox."""
    notices_for_tier_changes(events)


def tier_email(events: list[OutboxEvent]) -> dict[int, Exception]:
    """tier.changed: the notice's email (the notice is written first if it is not there yet).
    A message the mail server refuses is returned with why: the outbox tries it again later
    and shows the error."""
    return notice_emails_send_once(notices_for_tier_changes(events))


def _announced(events: list[OutboxEvent]) -> list[OutboxEvent]:
    return [event for event in events if event.data["announced"]]


def coupon_notice(events: list[OutboxEvent]) -> None:
    """coupon.issued: the notice in the member's inbox, for a coupon the member is told of."""
    notices_for_coupons(_announced(events))


def coupon_email(events: list[OutboxEvent]) -> dict[int, Exception]:
    """coupon.issued: the email of an announced coupon (its notice written first if missing),
    with the coupon's text and how to use it, in the member's language."""
    return notice_emails_send_once(
        notices_for_coupons(_announced(events)), render=coupon_notice_emails_render
    )


def points_expiring_notice(events: list[OutboxEvent]) -> None:
    """points.expiring: the notice in the member's inbox (one per lot)."""
    notices_for_expiring_points(events)


def points_expiring_email(events: list[OutboxEvent]) -> dict[int, Exception]:
    """points.expiring: the notice's email, in the member's language."""
    return notice_emails_send_once(notices_for_expiring_points(events))
