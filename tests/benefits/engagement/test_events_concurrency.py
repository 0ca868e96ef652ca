"""Real threads against PostgreSQL: an event's capacity holds when many answer at once."""

from __future__ import annotations

from collections import Counter

import pytest

from benefits.engagement.events import event_rsvp, event_rsvp_cancel
from benefits.engagement.models import EventRsvp, MemberEvent
from loyalty.program.presets.tiers import load as load_tiers
from tests.benefits.engagement.factories import MemberEventFactory
from tests.concurrency import run_threads
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_capacity_5_and_20_members_at_once() -> None:
    load_tiers("aliexpress")
    event = MemberEventFactory(capacity=5)
    members = [MemberFactory() for _i in range(20)]

    answers = run_threads(20, lambda i: event_rsvp(event_id=event.pk, member=members[i]).status)

    assert Counter(answers) == {EventRsvp.Status.CONFIRMED: 5, EventRsvp.Status.WAITING: 15}
    event.refresh_from_db()
    assert event.seats_taken == 5
    rows = EventRsvp.objects.filter(event=event)
    assert rows.filter(status=EventRsvp.Status.CONFIRMED).count() == 5
    assert rows.filter(status=EventRsvp.Status.WAITING).count() == 15
    # the same 20 members again, at once: nothing changes (one RSVP per member per event)
    run_threads(20, lambda i: event_rsvp(event_id=event.pk, member=members[i]))
    assert rows.count() == 20
    assert MemberEvent.objects.get(pk=event.pk).seats_taken == 5

    queue = list(rows.filter(status=EventRsvp.Status.WAITING).order_by("answered_at", "pk"))
    leaving = rows.filter(status=EventRsvp.Status.CONFIRMED).order_by("pk").first()
    assert leaving is not None
    _cancelled, promoted = event_rsvp_cancel(event_id=event.pk, member=leaving.member)
    assert promoted is not None and promoted.pk == queue[0].pk
    assert EventRsvp.objects.get(pk=queue[0].pk).status == EventRsvp.Status.CONFIRMED
    assert rows.filter(status=EventRsvp.Status.CONFIRMED).count() == 5
    assert rows.filter(status=EventRsvp.Status.WAITING).count() == 14
    assert MemberEvent.objects.get(pk=event.pk).seats_taken == 5


def test_cancellations_and_answers_at_once_never_pass_the_capacity() -> None:
    load_tiers("aliexpress")
    event = MemberEventFactory(capacity=3)
    seated = [MemberFactory() for _i in range(3)]
    for m in seated:
        event_rsvp(event_id=event.pk, member=m)
    newcomers = [MemberFactory() for _i in range(9)]

    def work(i: int) -> str:
        if i < 3:
            event_rsvp_cancel(event_id=event.pk, member=seated[i])
            return "cancelled"
        return event_rsvp(event_id=event.pk, member=newcomers[i - 3]).status

    run_threads(12, work)
    rows = EventRsvp.objects.filter(event=event)
    assert rows.filter(status=EventRsvp.Status.CONFIRMED).count() == 3
    assert rows.filter(status=EventRsvp.Status.WAITING).count() == 6
    assert rows.filter(status=EventRsvp.Status.CANCELLED).count() == 3
    assert MemberEvent.objects.get(pk=event.pk).seats_taken == 3
