"""Member events: invitations, RSVPs with a waiting list, and the attendee export.

Every RSVP and cancellation locks the event row first (`select_for_update`), so answers to
one event are applied one at a time: `seats_taken` never passes `capacity` (also a database
rule), and a cancelled seat goes to the first waiting member in the same transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from benefits.engagement.models import EventRsvp, MemberEvent
from core.mail import email_subject
from core.queue import task_queue
from loyalty.ledger.selectors import account_state
from loyalty.program.selectors import base_tier
from members.models import Member


class EventError(Exception):
    """A refused RSVP or cancellation, with a stable code; pages show `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def member_tier_id(member: Member) -> int | None:
    """The member's tier id: the evaluated one, else the base tier's."""
    _balance, tier_id = account_state(member)
    if tier_id is None:
        base = base_tier()
        return base.pk if base is not None else None
    return tier_id


def _eligible(tier_id: int | None) -> Q:
    return Q(eligible_tiers__isnull=True) | Q(eligible_tiers=tier_id)


def events_for_member(member: Member, now: datetime | None = None) -> QuerySet[MemberEvent]:
    """Upcoming published events the member is invited to (their tier is eligible) or has
    answered, soonest first, each with `my_status` and `my_place` (1-based place on the
    waiting list) annotated: one query, however many events and answers."""
    now = now or timezone.now()
    tier_id = member_tier_id(member)
    mine = EventRsvp.objects.filter(event=OuterRef("pk"), member=member)
    invited = MemberEvent.objects.filter(published=True, starts_at__gt=now).filter(
        _eligible(tier_id) | Q(rsvps__member=member)
    )
    ahead = (
        EventRsvp.objects.filter(
            event=OuterRef("event"),
            status=EventRsvp.Status.WAITING,
        )
        .filter(
            Q(answered_at__lt=OuterRef("answered_at"))
            | Q(answered_at=OuterRef("answered_at"), pk__lte=OuterRef("pk"))
        )
        .order_by()
        .values("event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    place = mine.filter(status=EventRsvp.Status.WAITING).annotate(place=Subquery(ahead))
    return (
        MemberEvent.objects.filter(pk__in=invited.values("pk"))
        .select_related("host_brand")
        .annotate(
            my_status=Subquery(mine.values("status")[:1]),
            my_place=Coalesce(Subquery(place.values("place")[:1]), 0),
        )
        .order_by("starts_at", "pk")
    )


def _refusal(
    event: MemberEvent, tier_id: int | None, eligible: list[int], now: datetime
) -> EventError | None:
    if not event.published:
        return EventError("event_not_found", _("This event does not exist."))
    if event.starts_at <= now:
        return EventError("event_started", _("This event has already started."))
    if event.rsvp_deadline <= now:
        return EventError("rsvp_closed", _("The RSVP deadline for this event has passed."))
    if eligible and tier_id not in eligible:
        return EventError("not_eligible", _("Your tier is not invited to this event."))
    return None


def _locked_event(event_id: int) -> MemberEvent:
    event = MemberEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise EventError("event_not_found", _("This event does not exist."))
    return event


@transaction.atomic
def event_rsvp(*, event_id: int, member: Member, now: datetime | None = None) -> EventRsvp:
    """Answer yes: a seat if one is left, else a place at the end of the waiting list.

    Answering again while confirmed or waiting changes nothing and returns the same RSVP; a
    cancelled answer is reopened (at the end of the queue).
    """
    # Read what does not change with the answers before taking the lock, so it is held briefly.
    tier_id = member_tier_id(member)
    eligible = list(
        MemberEvent.eligible_tiers.through.objects.filter(memberevent_id=event_id).values_list(
            "tier_id", flat=True
        )
    )
    event = _locked_event(event_id)
    now = now or timezone.now()  # after the lock: the queue is in the order answers landed
    refusal = _refusal(event, tier_id, eligible, now)
    if refusal is not None:
        raise refusal
    rsvp = EventRsvp.objects.filter(event=event, member=member).first()
    if rsvp is not None and rsvp.status != EventRsvp.Status.CANCELLED:
        return rsvp
    seat = event.seats_taken < event.capacity
    if seat:
        MemberEvent.objects.filter(pk=event.pk).update(seats_taken=F("seats_taken") + 1)
    status = EventRsvp.Status.CONFIRMED if seat else EventRsvp.Status.WAITING
    if rsvp is None:
        return EventRsvp.objects.create(event=event, member=member, status=status, answered_at=now)
    rsvp.status = status
    rsvp.answered_at = now
    rsvp.promoted_at = None
    rsvp.cancelled_at = None
    rsvp.save(update_fields=["status", "answered_at", "promoted_at", "cancelled_at"])
    return rsvp


def _first_waiting(event: MemberEvent) -> EventRsvp | None:
    return (
        EventRsvp.objects.filter(event=event, status=EventRsvp.Status.WAITING)
        .order_by("answered_at", "pk")
        .first()
    )


def _promote(event: MemberEvent, seats: int, now: datetime) -> list[EventRsvp]:
    """Give up to `seats` free seats to the first waiting members (the event row is locked)."""
    waiting = list(
        EventRsvp.objects.filter(event=event, status=EventRsvp.Status.WAITING).order_by(
            "answered_at", "pk"
        )[: max(seats, 0)]
    )
    if waiting:
        EventRsvp.objects.filter(pk__in=[r.pk for r in waiting]).update(
            status=EventRsvp.Status.CONFIRMED, promoted_at=now
        )
        MemberEvent.objects.filter(pk=event.pk).update(seats_taken=F("seats_taken") + len(waiting))
        for rsvp in waiting:
            rsvp.status = EventRsvp.Status.CONFIRMED
            rsvp.promoted_at = now
        ids = [r.pk for r in waiting]
        transaction.on_commit(lambda: _enqueue_seat_emails(ids))
    return waiting


def _enqueue_seat_emails(rsvp_ids: list[int]) -> None:
    for rsvp_id in rsvp_ids:
        task_queue("benefits.event_seat_email", rsvp_id)


@transaction.atomic
def event_seat_email_send(*, rsvp_id: int, now: datetime | None = None) -> bool:
    """Tell a member who moved up from the waiting list that they have a seat. At most once:
    a guarded UPDATE marks the RSVP first (a second run finds it marked and sends nothing);
    if sending fails the mark rolls back with it and a retry may send."""
    now = now or timezone.now()
    marked = EventRsvp.objects.filter(
        pk=rsvp_id,
        status=EventRsvp.Status.CONFIRMED,
        promoted_at__isnull=False,
        notified_at__isnull=True,
    ).update(notified_at=now)
    if not marked:
        return False
    rsvp = EventRsvp.objects.select_related("event", "member").get(pk=rsvp_id)
    with translation.override(rsvp.member.language):
        context = {"rsvp": rsvp, "event": rsvp.event, "member": rsvp.member}
        subject = email_subject("benefits/email/event_seat_subject.txt", context)
        body = render_to_string("benefits/email/event_seat.txt", context)
    EmailMessage(subject, body, to=[rsvp.member.email]).send()
    return True


@transaction.atomic
def event_rsvp_cancel(
    *, event_id: int, member: Member, now: datetime | None = None
) -> tuple[EventRsvp, EventRsvp | None]:
    """Cancel the member's answer. A confirmed seat goes to the first waiting member in the
    same transaction. Returns (the cancelled RSVP, the promoted one or None)."""
    now = now or timezone.now()
    event = _locked_event(event_id)
    if not event.published:  # answered as a missing one: unpublished events do not exist yet
        raise EventError("event_not_found", _("This event does not exist."))
    rsvp = EventRsvp.objects.filter(event=event, member=member).first()
    if rsvp is None or rsvp.status == EventRsvp.Status.CANCELLED:
        raise EventError("no_rsvp", _("You have not answered this invitation."))
    if event.starts_at <= now:
        raise EventError("event_started", _("This event has already started."))
    was_confirmed = rsvp.status == EventRsvp.Status.CONFIRMED
    rsvp.status = EventRsvp.Status.CANCELLED
    rsvp.cancelled_at = now
    rsvp.save(update_fields=["status", "cancelled_at"])
    promoted = None
    if was_confirmed:
        MemberEvent.objects.filter(pk=event.pk).update(seats_taken=F("seats_taken") - 1)
        moved = _promote(event, 1, now)
        promoted = moved[0] if moved else None
    return rsvp, promoted


@transaction.atomic
def event_waitlist_fill(*, event_id: int, now: datetime | None = None) -> list[EventRsvp]:
    """After staff raise the capacity: the free seats go to the first waiting members."""
    now = now or timezone.now()
    event = _locked_event(event_id)
    return _promote(event, event.capacity - event.seats_taken, now)


ATTENDEE_COLUMNS = [
    "event",
    "starts_at",
    "member_number",
    "name",
    "email",
    "status",
    "waiting_place",
    "answered_at",
    "promoted_at",
]


def _cell(value: str) -> str:
    """A member-typed value made inert for spreadsheets (no formula injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def attendees_csv(events: Iterable[MemberEvent]) -> str:
    """Confirmed members, then the waiting list in its order, of each event (one query)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ATTENDEE_COLUMNS)
    rows = (
        EventRsvp.objects.filter(
            event__in=list(events),
            status__in=[EventRsvp.Status.CONFIRMED, EventRsvp.Status.WAITING],
        )
        .select_related("event", "member")
        .order_by("event__starts_at", "event_id", "status", "answered_at", "pk")
    )
    place = 0
    current = None
    for rsvp in rows:
        if rsvp.event_id != current:
            current, place = rsvp.event_id, 0
        waiting = rsvp.status == EventRsvp.Status.WAITING
        place += waiting
        writer.writerow(
            [
                _cell(rsvp.event.title),
                rsvp.event.starts_at.isoformat(),
                rsvp.member.number,
                _cell(rsvp.member.name),
                _cell(rsvp.member.email),
                rsvp.status,
                place if waiting else "",
                rsvp.answered_at.isoformat(),
                rsvp.promoted_at.isoformat() if rsvp.promoted_at else "",
            ]
        )
    return out.getvalue()
