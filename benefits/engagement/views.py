"""/me/events/: the member's invitations, RSVP and cancellation (POST + CSRF)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benefits.engagement.events import EventError, event_rsvp, event_rsvp_cancel, events_for_member
from benefits.engagement.models import EventRsvp
from members.models import Member

_STATUS = {"event_not_found": 404}


def _member(request: HttpRequest) -> Member:
    assert isinstance(request.user, Member)
    return request.user


def _page(
    request: HttpRequest, errors: dict[int, str] | None = None, status: int = 200
) -> HttpResponse:
    member = _member(request)
    events = list(events_for_member(member))
    listed = {event.pk for event in events}
    for event in events:
        event.error = (errors or {}).get(event.pk)  # type: ignore[attr-defined]  # beside it
    return render(
        request,
        "benefits/events/list.html",
        {
            "member": member,
            "events": events,
            "Status": EventRsvp.Status,
            "now": timezone.now(),
            # an error about an event that is not listed (not invited, gone) goes on top
            "page_errors": [m for pk, m in (errors or {}).items() if pk not in listed],
        },
        status=status,
    )


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def rsvp(request: HttpRequest, event_id: int) -> HttpResponse:
    try:
        answer = event_rsvp(event_id=event_id, member=_member(request))
    except EventError as exc:
        return _page(request, {event_id: exc.message}, _STATUS.get(exc.code, 409))
    if answer.status == EventRsvp.Status.CONFIRMED:
        messages.success(request, _("You are going to %(title)s.") % {"title": answer.event.title})
    else:
        messages.warning(
            request,
            _("%(title)s is full: you are on the waiting list and move up if a seat frees.")
            % {"title": answer.event.title},
        )
    return redirect("events:list")


@login_required
@require_POST
def cancel(request: HttpRequest, event_id: int) -> HttpResponse:
    try:
        answer, _promoted = event_rsvp_cancel(event_id=event_id, member=_member(request))
    except EventError as exc:
        return _page(request, {event_id: exc.message}, _STATUS.get(exc.code, 409))
    messages.success(
        request, _("Your answer to %(title)s is cancelled.") % {"title": answer.event.title}
    )
    return redirect("events:list")
