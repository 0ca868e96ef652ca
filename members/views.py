from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.i18n import set_language as django_set_language

from loyalty.earning import points_visit_award

from .adapters import remember_language
from .api.errors import json_404, json_500
from .forms import ProfileForm
from .models import Member
from .selectors import member_email_verified
from .services import member_update_profile, profile_completeness


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _member(request: HttpRequest) -> Member:
    user = request.user
    assert isinstance(user, Member)
    return user


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    points_visit_award(member_id=member.pk)  # the daily visit point, once a program-local day
    verified = member_email_verified(member)
    return render(
        request,
        "members/dashboard.html",
        {
            "member": member,
            "email_verified": verified,
            "completeness": profile_completeness(member, email_verified=verified),
        },
    )


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
                response = redirect("members:profile")
                remember_language(response, member.language)
                return response
    else:
        form = ProfileForm(member=member)
    return render(request, "members/profile.html", {"form": form, "member": member})


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
