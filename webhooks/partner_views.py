"""The partner portal's webhook pages (/partners/webhooks/): a company's own endpoints, their
messages and every attempt, resend and replay. Only the company's people use them; another
company's endpoint or message is a 404, never a 403 that would confirm it exists.

A new or rotated secret is shown once, on the page after the POST that made it (kept in the
session until that page shows it)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from partners.models import ProviderMember
from partners.views import partner_required

from . import services
from .forms import PartnerEndpointForm, ReplayForm
from .models import WebhookEndpoint, WebhookMessage
from .selectors import endpoint_messages_with_attempts, endpoints_of_provider

MESSAGES_PER_PAGE = 20
_SHOWN_ONCE = "webhooks_shown_once"


def _person(request: HttpRequest) -> ProviderMember:
    person: ProviderMember = request.partner  # type: ignore[attr-defined]
    return person


def _own(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(endpoints_of_provider(_person(request).provider), pk=pk)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    person = _person(request)
    context.update(person=person, provider=person.provider)
    return render(request, f"webhooks/partner/{template}", context, status=status)


def _secret_once(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    request.session[_SHOWN_ONCE] = {"endpoint": endpoint.pk, "secret": secret}
    return redirect("partner_webhooks:secret", pk=endpoint.pk)


def _refused_types(form: PartnerEndpointForm, refusal: services.EventTypesRefused) -> None:
    form.add_error(
        "event_types",
        _("Not available to a partner company: %(types)s") % {"types": ", ".join(refusal.refused)},
    )


@partner_required
def endpoints(request: HttpRequest) -> HttpResponse:
    found = endpoints_of_provider(_person(request).provider)
    return _render(request, "endpoints.html", {"endpoints": found})


@partner_required
@require_http_methods(["GET", "POST"])
def endpoint_new(request: HttpRequest) -> HttpResponseBase:
    form = PartnerEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                provider=_person(request).provider, **form.cleaned_data
            )
        except services.EventTypesRefused as refusal:
            _refused_types(form, refusal)
        else:
            return _secret_once(request, endpoint, secret)
    return _render(
        request, "endpoint_form.html", {"form": form}, status=400 if form.errors else 200
    )


@never_cache
@partner_required
def secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The secret made by the previous POST, this once; reloading shows it no more."""
    endpoint = _own(request, pk)
    held = request.session.get(_SHOWN_ONCE)
    shown = ""
    if held and held.get("endpoint") == endpoint.pk:
        shown = held["secret"]
        del request.session[_SHOWN_ONCE]
    return _render(request, "secret.html", {"endpoint": endpoint, "secret": shown})


def _endpoint_page(
    request: HttpRequest, endpoint: WebhookEndpoint, replay: ReplayForm, status: int = 200
) -> HttpResponse:
    paginator = Paginator(endpoint_messages_with_attempts(endpoint), MESSAGES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return _render(
        request,
        "endpoint.html",
        {"endpoint": endpoint, "page": page, "replay": replay},
        status=status,
    )


@partner_required
def endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    return _endpoint_page(request, _own(request, pk), ReplayForm())


@partner_required
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    found = _own(request, pk)
    initial = {"url": found.url, "description": found.description, "event_types": found.event_types}
    form = PartnerEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(endpoint=found, **form.cleaned_data)
        except services.EventTypesRefused as refusal:
            _refused_types(form, refusal)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("partner_webhooks:endpoint", pk=found.pk)
    return _render(
        request,
        "endpoint_form.html",
        {"form": form, "endpoint": found},
        status=400 if form.errors else 200,
    )


@partner_required
@require_http_methods(["GET", "POST"])
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    found = _own(request, pk)
    if request.method == "POST":
        services.endpoint_delete(endpoint=found)
        messages.success(request, _("Endpoint deleted: %(url)s") % {"url": found.url})
        return redirect("partner_webhooks:endpoints")
    return _render(request, "delete.html", {"endpoint": found})


@partner_required
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    return _secret_once(request, found, services.endpoint_rotate_secret(endpoint=found))


@partner_required
@require_POST
def endpoint_disable(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    services.endpoint_disable(endpoint_id=found.pk, reason=_("Disabled by your company."))
    messages.success(request, _("Endpoint disabled: its events wait until you enable it."))
    return redirect("partner_webhooks:endpoint", pk=found.pk)


@partner_required
@require_POST
def endpoint_enable(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    services.endpoint_enable(endpoint_id=found.pk)
    messages.success(request, _("Endpoint enabled: what waited is being sent."))
    return redirect("partner_webhooks:endpoint", pk=found.pk)


@partner_required
@require_POST
def message_resend(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    found = _own(request, pk)
    message = get_object_or_404(WebhookMessage, pk=message_pk, endpoint=found)
    services.messages_resend(message_ids=[message.pk])
    messages.success(request, _("The event is being sent again."))
    return redirect("partner_webhooks:endpoint", pk=found.pk)


@partner_required
@require_POST
def endpoint_replay(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        return _endpoint_page(request, found, form, status=400)
    count = services.endpoint_replay(endpoint_id=found.pk, since=form.cleaned_data["since"])
    messages.success(
        request,
        ngettext("%(count)d event to send again.", "%(count)d events to send again.", count)
        % {"count": count},
    )
    return redirect("partner_webhooks:endpoint", pk=found.pk)
