from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.defaults import bad_request as django_bad_request
from django.views.i18n import set_language as django_set_language

from core.api.errors import json_400, json_404, json_500
from core.cache import Scope, versions_known
from core.clock import changes_collected, program_today
from loyalty.earning import points_visit_award, visit_seen_key
from loyalty.program.selectors import program_overview
from members.forms import ProfileForm
from members.models import Member
from members.services import member_update_profile, profile_completeness
from portal.adapters import remember_language
from portal.models import Notice
from portal.notices import notice_text, notices_mark_read
from portal.selectors import MemberStatus, request_member_status


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _member(request: HttpRequest) -> Member:
    user = request.user
    assert isinstance(user, Member)
    return user


# The dashboard's cards are cached per member as one rendered fragment. Its key holds every
# input that can change them: the member's and the program's page versions (bumped by database
# triggers on every write, portal.page_versions), the language, the active time zone and the
# program-local date. It lives until the next moment a card reads differently (a coupon
# leaving "expiring soon", a sale opening: core.clock.note_change_at), at most
# DASHBOARD_CACHE_SECONDS.
DASHBOARD_CACHE_SECONDS = 15 * 60


def _cards_key(member: Member, status: MemberStatus, today: date) -> str:
    return ":".join(
        (
            "portal:dashboard:v1",
            str(member.pk),
            str(status.page_version),
            str(status.program_version),
            translation.get_language() or "",
            timezone.get_current_timezone_name(),
            today.isoformat(),
        )
    )


def _render_cards(request: HttpRequest, member: Member, status: MemberStatus, key: str) -> str:
    with changes_collected() as moments:
        html = render_to_string(
            "members/dashboard/_cards.html",
            {
                "member": member,
                "email_verified": status.email_verified,
                "completeness": profile_completeness(member, email_verified=status.email_verified),
            },
            request=request,
        )
    now = timezone.now()
    until = min([now + timedelta(seconds=DASHBOARD_CACHE_SECONDS), *moments])
    seconds = int((until - now).total_seconds())
    if seconds > 0:  # the moment is kept with the fragment: a hit is checked against it
        cache.set(key, (until.timestamp(), html), seconds)
    return html


def _versions(status: MemberStatus) -> dict[int, int]:
    """Every program-wide scope's version, as the status query read them (-1: never bumped)."""
    return {
        **{int(scope): -1 for scope in Scope},
        **dict(status.scope_versions),
        Scope.PROGRAM_WIDE: status.program_version,
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    status = request_member_status(request)  # one query, with the page versions
    assert status is not None
    # The program-wide data (settings, ladder, showcase) is read under the versions the status
    # query just read (core.cache): memoised in this process, no round trip for it.
    with versions_known(_versions(status)):
        today = program_today()
        seen, key = visit_seen_key(member.pk, today), _cards_key(member, status, today)
        found = cache.get_many([seen, key])  # one round trip on every view but the first
        if seen not in found and points_visit_award(member_id=member.pk) is not None:
            # The day's visit point was just awarded: the member's version moved.
            status = request_member_status(request, refresh=True)
            assert status is not None
            key, found = _cards_key(member, status, today), {}
    hit = found.get(key)
    if hit is not None and hit[0] > timezone.now().timestamp():
        cards = hit[1]
    else:
        with versions_known(_versions(status)):
            cards = _render_cards(request, member, status, key)
    return render(request, "members/dashboard.html", {"cards": mark_safe(cards)})  # noqa: S308


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    if request.method == "POST":
        form = ProfileForm(request.POST, member=member)
        if form.is_valid():
            try:
                member = form.save()
            except ValidationError:
                pass  # the form now carries the errors beside their fields
            else:
                translation.activate(member.language)
                messages.success(request, _("Your profile was saved."))
                response = redirect("portal:profile")
                remember_language(response, member.language)
                return response
    else:
        form = ProfileForm(member=member)
    return render(request, "members/profile.html", {"form": form, "member": member})


def how_points_work(request: HttpRequest) -> HttpResponse:
    """How points work, generated from the live program: nothing here is hard-coded text
    about numbers. Public, in the member layout for a member."""
    layout = "members/base_member.html" if request.user.is_authenticated else "base.html"
    return render(
        request,
        "members/how_points_work.html",
        {"layout": layout, "overview": program_overview()},
    )


INBOX_SIZE = 50


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The member's notices, newest first, unread ones marked; one query for the list."""
    member = _member(request)
    notices = list(Notice.objects.filter(member=member).order_by("-created_at", "-id")[:INBOX_SIZE])
    items = [(notice, notice_text(notice)) for notice in notices]
    return render(request, "members/inbox.html", {"items": items, "member": member})


@login_required
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    """Mark one notice (`notice`) or every notice read, then back to the inbox."""
    raw = request.POST.get("notice", "")
    notice_id = int(raw) if raw.isdigit() else None
    notices_mark_read(member_id=_member(request).pk, notice_id=notice_id)
    return redirect("portal:inbox")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/ (the error envelope), Django's own page elsewhere."""
    if request.path.startswith("/api/"):
        return json_400(request, exception)
    return django_bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """JSON under /api/, the portal's own page elsewhere."""
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_500(request)
    return render(request, "500.html", status=500)


@require_http_methods(["POST"])
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, and for a logged-in member the choice is saved on the profile."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if isinstance(request.user, Member) and language in dict(Member.Language.choices):
        member_update_profile(member=request.user, language=language)
    return response
