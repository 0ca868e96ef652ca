"""Engagement's queued work: the email that tells a member a seat came free."""

from __future__ import annotations

from celery import shared_task

from benefits.engagement.events import event_seat_email_send

# --- Member events ---------------------------------------------------------


@shared_task(name="benefits.event_seat_email")
def event_seat_email_task(rsvp_id: int) -> bool:
    """Tell a member who moved up from an event's waiting list (sent at most once)."""
    return event_seat_email_send(rsvp_id=rsvp_id)
