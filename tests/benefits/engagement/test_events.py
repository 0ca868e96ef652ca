"""Member events: RSVP, capacity, the waiting list, the page and the attendee export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from benefits.engagement.events import (
    EventError,
    event_rsvp,
    event_rsvp_cancel,
    event_seat_email_send,
    event_waitlist_fill,
)
from benefits.engagement.models import EventRsvp, MemberEvent
from loyalty.program.models import Tier
from members.models import Member
from tests.benefits.engagement.factories import MemberEventFactory, set_tier
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
Status = EventRsvp.Status


def statuses(event: MemberEvent) -> list[tuple[str, str]]:
    rows = EventRsvp.objects.filter(event=event).order_by("answered_at", "pk")
    return [(r.member.email, r.status) for r in rows.select_related("member")]


def test_rsvp_fills_capacity_then_queues_in_answer_order(ladder: dict[str, Tier]) -> None:
    event = MemberEventFactory(capacity=2)
    members = [MemberFactory(email=f"m{i}@example.com") for i in range(4)]
    start = timezone.now()
    answers = [
        event_rsvp(event_id=event.pk, member=m, now=start + timedelta(seconds=i))
        for i, m in enumerate(members)
    ]
    assert [a.status for a in answers] == [
        Status.CONFIRMED,
        Status.CONFIRMED,
        Status.WAITING,
        Status.WAITING,
    ]
    event.refresh_from_db()
    assert event.seats_taken == 2
    # answering again changes nothing
    again = event_rsvp(event_id=event.pk, member=members[2], now=start + timedelta(minutes=1))
    assert again.pk == answers[2].pk and again.status == Status.WAITING
    assert EventRsvp.objects.count() == 4


def test_cancelling_a_seat_promotes_the_first_waiting_member(ladder: dict[str, Tier]) -> None:
    event = MemberEventFactory(capacity=2)
    members = [MemberFactory(email=f"m{i}@example.com") for i in range(4)]
    start = timezone.now()
    for i, m in enumerate(members):
        event_rsvp(event_id=event.pk, member=m, now=start + timedelta(seconds=i))
    cancelled, promoted = event_rsvp_cancel(
        event_id=event.pk, member=members[0], now=start + timedelta(minutes=5)
    )
    assert cancelled.status == Status.CANCELLED
    assert promoted is not None and promoted.member == members[2]
    assert statuses(event) == [
        ("m0@example.com", "cancelled"),
        ("m1@example.com", "confirmed"),
        ("m2@example.com", "confirmed"),
        ("m3@example.com", "waiting"),
    ]
    event.refresh_from_db()
    assert event.seats_taken == 2
    assert EventRsvp.objects.get(member=members[2]).promoted_at == start + timedelta(minutes=5)


def test_cancelling_a_waiting_place_frees_no_seat(ladder: dict[str, Tier]) -> None:
    event = MemberEventFactory(capacity=1)
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    for m in (a, b, c):
        event_rsvp(event_id=event.pk, member=m)
    _cancelled, promoted = event_rsvp_cancel(event_id=event.pk, member=b)
    assert promoted is None
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert EventRsvp.objects.get(member=c).status == Status.WAITING


def test_the_last_seat_freed_with_nobody_waiting_is_free_again(ladder: dict[str, Tier]) -> None:
    event = MemberEventFactory(capacity=1)
    a, b = MemberFactory(), MemberFactory()
    event_rsvp(event_id=event.pk, member=a)
    event_rsvp_cancel(event_id=event.pk, member=a)
    event.refresh_from_db()
    assert event.seats_taken == 0
    assert event_rsvp(event_id=event.pk, member=b).status == Status.CONFIRMED
    # a cancelled member may answer again: at the end of the queue
    again = event_rsvp(event_id=event.pk, member=a)
    assert again.status == Status.WAITING
    assert EventRsvp.objects.filter(member=a).count() == 1


def test_raising_the_capacity_moves_the_waiting_list_up(ladder: dict[str, Tier]) -> None:
    event = MemberEventFactory(capacity=1)
    members = [MemberFactory() for _i in range(4)]
    start = timezone.now()
    for i, m in enumerate(members):
        event_rsvp(event_id=event.pk, member=m, now=start + timedelta(seconds=i))
    MemberEvent.objects.filter(pk=event.pk).update(capacity=3)
    moved = event_waitlist_fill(event_id=event.pk)
    assert [r.member for r in moved] == members[1:3]
    event.refresh_from_db()
    assert event.seats_taken == 3
    assert EventRsvp.objects.get(member=members[3]).status == Status.WAITING


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"rsvp_deadline": -1}, "rsvp_closed"),
        ({"starts_at": -1}, "event_started"),
        ({"published": False}, "event_not_found"),
    ],
)
def test_refused_rsvps_write_nothing(
    ladder: dict[str, Tier], member: Member, change: dict[str, Any], code: str
) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {}
    if "rsvp_deadline" in change:
        fields = {"starts_at": now + timedelta(days=1), "rsvp_deadline": now - timedelta(hours=1)}
    elif "starts_at" in change:
        fields = {
            "starts_at": now - timedelta(minutes=1),
            "rsvp_deadline": now - timedelta(hours=1),
        }
    else:
        fields = {"published": False}
    event = MemberEventFactory(**fields)
    with pytest.raises(EventError) as refused:
        event_rsvp(event_id=event.pk, member=member, now=now)
    assert refused.value.code == code
    assert not EventRsvp.objects.exists()
    event.refresh_from_db()
    assert event.seats_taken == 0


def test_only_eligible_tiers_may_answer(ladder: dict[str, Tier], member: Member) -> None:
    event = MemberEventFactory(tiers=[ladder["gold"], ladder["diamond"]])
    set_tier(member, ladder["silver"])
    with pytest.raises(EventError) as refused:
        event_rsvp(event_id=event.pk, member=member)
    assert refused.value.code == "not_eligible"
    assert not EventRsvp.objects.exists()
    fresh = get_user_model().objects.get(pk=member.pk)  # no remembered account state
    set_tier(fresh, ladder["gold"])
    assert event_rsvp(event_id=event.pk, member=fresh).status == Status.CONFIRMED


def test_cancel_without_an_answer_is_refused(ladder: dict[str, Tier], member: Member) -> None:
    event = MemberEventFactory()
    with pytest.raises(EventError) as refused:
        event_rsvp_cancel(event_id=event.pk, member=member)
    assert refused.value.code == "no_rsvp"


# --- The page -------------------------------------------------------------------------------


@pytest.fixture
def web(member: Member) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    return client


def _csrf(client: Client) -> str:
    client.get("/me/events/")
    return client.cookies["csrftoken"].value


def test_events_page_empty_state(web: Client, ladder: dict[str, Tier]) -> None:
    html = web.get("/me/events/").content.decode()
    assert 'data-testid="events-empty"' in html
    assert 'href="/me/events/"' in html  # the nav entry


def test_events_page_lists_only_invitations_of_the_members_tier(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    set_tier(member, ladder["gold"])
    MemberEventFactory(title="Gold evening", tiers=[ladder["gold"]])
    MemberEventFactory(title="Diamond dinner", tiers=[ladder["diamond"]])
    MemberEventFactory(title="Open house")
    MemberEventFactory(
        title="Past party",
        starts_at=timezone.now() - timedelta(days=1),
        rsvp_deadline=timezone.now() - timedelta(days=2),
    )
    html = web.get("/me/events/").content.decode()
    assert "Gold evening" in html and "Open house" in html
    assert "Diamond dinner" not in html and "Past party" not in html


def test_rsvp_and_cancel_through_the_page(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(title="Shoe launch", capacity=1)
    token = _csrf(web)
    refused = web.post(f"/me/events/{event.pk}/rsvp/")
    assert refused.status_code == 403  # CSRF is enforced
    assert not EventRsvp.objects.exists()
    response = web.post(f"/me/events/{event.pk}/rsvp/", {"csrfmiddlewaretoken": token}, follow=True)
    html = response.content.decode()
    assert "You are going to Shoe launch." in html
    assert "You are going</span>" in html
    assert EventRsvp.objects.get().status == Status.CONFIRMED
    response = web.post(
        f"/me/events/{event.pk}/cancel/", {"csrfmiddlewaretoken": token}, follow=True
    )
    assert "Your answer to Shoe launch is cancelled." in response.content.decode()
    assert EventRsvp.objects.get().status == Status.CANCELLED


def test_waiting_member_sees_their_place(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(capacity=1)
    start = timezone.now() - timedelta(minutes=10)
    for i in range(3):
        event_rsvp(event_id=event.pk, member=MemberFactory(), now=start + timedelta(seconds=i))
    token = _csrf(web)
    response = web.post(f"/me/events/{event.pk}/rsvp/", {"csrfmiddlewaretoken": token}, follow=True)
    html = response.content.decode()
    assert "is full: you are on the waiting list" in html
    assert "Waiting list: number 3" in html


def test_a_refused_rsvp_is_shown_beside_its_event(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    now = timezone.now()
    event = MemberEventFactory(
        starts_at=now + timedelta(hours=2), rsvp_deadline=now - timedelta(hours=1)
    )
    token = _csrf(web)
    response = web.post(f"/me/events/{event.pk}/rsvp/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 409
    html = response.content.decode()
    card = html[html.index(f'data-testid="event-{event.pk}"') :]
    assert 'data-testid="event-error"><li>The RSVP deadline for this event has passed.' in card
    assert 'data-testid="rsvp-closed"' in card  # no button to press any more
    assert not EventRsvp.objects.exists()


def test_a_refused_rsvp_for_an_unlisted_event_is_shown_on_top(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(tiers=[ladder["diamond"]])
    token = _csrf(web)
    response = web.post(f"/me/events/{event.pk}/rsvp/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 409
    assert "Your tier is not invited to this event." in response.content.decode()
    missing = web.post("/me/events/999999/rsvp/", {"csrfmiddlewaretoken": token})
    assert missing.status_code == 404
    assert not EventRsvp.objects.exists()


def test_events_page_runs_constant_queries(
    web: Client, member: Member, ladder: dict[str, Tier], django_assert_max_num_queries: Any
) -> None:
    web.get("/me/events/")
    with django_assert_max_num_queries(8) as few:
        web.get("/me/events/")
    for i in range(6):
        event = MemberEventFactory(capacity=1, tiers=[ladder["standard"], ladder["gold"]])
        event_rsvp(event_id=event.pk, member=MemberFactory())
        if i % 2:
            event_rsvp(event_id=event.pk, member=member)
    with django_assert_max_num_queries(8) as many:
        html = web.get("/me/events/").content.decode()
    assert html.count("Waiting list: number 1") == 3
    assert len(many.captured_queries) == len(few.captured_queries)


# --- The admin export -----------------------------------------------------------------------


def test_admin_exports_attendees_as_csv(ladder: dict[str, Tier]) -> None:
    staff = MemberFactory(is_staff=True, is_superuser=True)
    event = MemberEventFactory(title="Launch", capacity=1)
    start = timezone.now()
    first = MemberFactory(email="first@example.com", name="=HYPERLINK(1)")
    second = MemberFactory(email="second@example.com", name="Second")
    third = MemberFactory(email="third@example.com", name="Third")
    for i, m in enumerate((first, second, third)):
        event_rsvp(event_id=event.pk, member=m, now=start + timedelta(seconds=i))
    event_rsvp_cancel(event_id=event.pk, member=third)
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/benefits/memberevent/",
        {"action": "export_attendees", "_selected_action": [event.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:7] == [
        "event",
        "starts_at",
        "member_number",
        "name",
        "email",
        "status",
        "waiting_place",
    ]
    assert [(r[0], r[2], r[3], r[5], r[6]) for r in rows[1:]] == [
        ("Launch", first.number, "'=HYPERLINK(1)", "confirmed", ""),  # inert in a spreadsheet
        ("Launch", second.number, "Second", "waiting", "1"),
    ]


# --- Telling the member who moved up --------------------------------------------------------


def test_promotion_queues_one_email_after_commit_and_sends_it_once(
    ladder: dict[str, Tier], django_capture_on_commit_callbacks: Any, mailoutbox: list[Any]
) -> None:
    event = MemberEventFactory(title="Shoe launch", capacity=1)
    first = MemberFactory()
    second = MemberFactory(email="second@example.com", name="Second")
    event_rsvp(event_id=event.pk, member=first)
    waiting = event_rsvp(event_id=event.pk, member=second)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event_rsvp_cancel(event_id=event.pk, member=first)
    assert len(callbacks) == 1  # the task is queued only once the seat is committed
    assert event_seat_email_send(rsvp_id=waiting.pk) is True
    assert event_seat_email_send(rsvp_id=waiting.pk) is False  # a second run sends nothing
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["second@example.com"]
    assert mailoutbox[0].subject == "You have a seat: Shoe launch"
    assert "you moved up from the waiting list of Shoe launch" in mailoutbox[0].body
    assert EventRsvp.objects.get(pk=waiting.pk).notified_at is not None


def test_no_email_for_a_member_who_answered_with_a_free_seat(
    ladder: dict[str, Tier], member: Member, mailoutbox: list[Any]
) -> None:
    rsvp = event_rsvp(event_id=MemberEventFactory().pk, member=member)
    assert event_seat_email_send(rsvp_id=rsvp.pk) is False
    assert mailoutbox == []
    assert EventRsvp.objects.get(pk=rsvp.pk).notified_at is None


# --- The admin ------------------------------------------------------------------------------


@pytest.fixture
def staff_client(db: Any) -> Client:
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    return client


def _event_form(event: MemberEvent, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": event.title,
        "description": "",
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        "place": event.place,
        "online_url": "",
        "host_brand": "",
        "eligible_tiers": [],
        "capacity": event.capacity,
        "rsvp_deadline_0": event.rsvp_deadline.strftime("%Y-%m-%d"),
        "rsvp_deadline_1": event.rsvp_deadline.strftime("%H:%M:%S"),
        "published": "on",
        "rsvps-TOTAL_FORMS": "0",
        "rsvps-INITIAL_FORMS": "0",
        "rsvps-MIN_NUM_FORMS": "0",
        "rsvps-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_admin_raising_the_capacity_seats_the_waiting_list(
    staff_client: Client, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(capacity=1)
    members = [MemberFactory() for _i in range(3)]
    start = timezone.now()
    for i, m in enumerate(members):
        event_rsvp(event_id=event.pk, member=m, now=start + timedelta(seconds=i))
    response = staff_client.post(
        f"/admin/benefits/memberevent/{event.pk}/change/", _event_form(event, capacity=2)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event.refresh_from_db()
    assert (event.capacity, event.seats_taken) == (2, 2)
    assert EventRsvp.objects.get(member=members[1]).status == Status.CONFIRMED
    assert EventRsvp.objects.get(member=members[2]).status == Status.WAITING


def test_admin_cannot_lower_the_capacity_below_the_confirmed(
    staff_client: Client, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(capacity=3)
    for _i in range(2):
        event_rsvp(event_id=event.pk, member=MemberFactory())
    response = staff_client.post(
        f"/admin/benefits/memberevent/{event.pk}/change/", _event_form(event, capacity=1)
    )
    assert response.status_code == 200
    assert "2 members are confirmed already; the capacity cannot be lower." in (
        response.content.decode()
    )
    event.refresh_from_db()
    assert event.capacity == 3


@pytest.mark.parametrize(
    "url",
    [
        "/admin/benefits/brand/",
        "/admin/benefits/featuredbrand/",
        "/admin/benefits/featuredbrand/add/",
        "/admin/benefits/memberevent/",
        "/admin/benefits/memberevent/add/",
        "/admin/benefits/sale/",
        "/admin/benefits/sale/add/",
    ],
)
def test_admin_pages_render(staff_client: Client, ladder: dict[str, Tier], url: str) -> None:
    MemberEventFactory()
    assert staff_client.get(url).status_code == 200


def test_admin_edit_never_writes_back_a_stale_seat_count(
    staff_client: Client, ladder: dict[str, Tier], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member answers while staff save the event: the count the admin loaded is stale, and
    saving the edit must not put it back (which would let capacity + 1 members in)."""
    from benefits.admin import MemberEventAdmin

    event = MemberEventFactory(capacity=5)
    event_rsvp(event_id=event.pk, member=MemberFactory())
    original = MemberEventAdmin.save_model

    def rsvp_meanwhile(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        event_rsvp(event_id=event.pk, member=MemberFactory())  # after the admin loaded obj
        original(self, request, obj, form, change)

    monkeypatch.setattr(MemberEventAdmin, "save_model", rsvp_meanwhile)
    response = staff_client.post(
        f"/admin/benefits/memberevent/{event.pk}/change/",
        _event_form(event, title="Preview night (moved)"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event.refresh_from_db()
    assert (event.title, event.seats_taken) == ("Preview night (moved)", 2)


def test_cancelling_an_unpublished_event_answers_as_a_missing_one(
    web: Client, member: Member, ladder: dict[str, Tier]
) -> None:
    event = MemberEventFactory(title="Secret sale", published=False)
    token = _csrf(web)
    answers = [
        web.post(f"/me/events/{event_id}/cancel/", {"csrfmiddlewaretoken": token})
        for event_id in (event.pk, event.pk + 1000)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert all("This event does not exist." in a.content.decode() for a in answers)
    assert "Secret sale" not in answers[0].content.decode()
    with pytest.raises(EventError) as refused:
        event_rsvp_cancel(event_id=event.pk, member=member)
    assert refused.value.code == "event_not_found"
    assert not EventRsvp.objects.exists()
