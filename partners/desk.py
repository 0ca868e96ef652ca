"""The audit desk (/partners/desk/): staff of the "Partner auditors" group audit applications
(queue by stage with the SLA due time, overdue first), look at the documents inline, decide in
one click with a note, verify identities, record deposit movements, suspend and revoke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.clock import program_timezone

from . import selectors, services
from .errors import PartnerError
from .forms import (
    DecisionForm,
    DepositForm,
    IdentityDecisionForm,
    MessageForm,
    ReasonForm,
    SuspendForm,
    UpdateRequestForm,
    show_refusal,
)
from .models import Application, IdentityCheck, Provider, Stage
from .views import user_id

View = Callable[..., HttpResponse]


def auditor_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm("partners.audit_application"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@auditor_required
def queue(request: HttpRequest) -> HttpResponse:
    stage = request.GET.get("stage", "")
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()[:100]
    overdue = request.GET.get("overdue") == "1"
    items = selectors.audit_queue(
        stage=stage if stage in Stage.values else "",
        status=status if status in Application.AWAITING_STAFF else "",
        query=query,
        overdue_only=overdue,
    )
    return render(
        request,
        "partners/desk/queue.html",
        {
            "items": items[:200],
            "now": timezone.now(),
            "stages": Stage.choices,
            "statuses": [(s, Application.Status(s).label) for s in Application.AWAITING_STAFF],
            "stage": stage,
            "status": status,
            "query": query,
            "overdue": overdue,
            "figures": selectors.sla_figures(),
            "pending_identities": IdentityCheck.objects.filter(status="pending").select_related(
                "provider"
            ),
        },
    )


@auditor_required
def application(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(Application.objects.select_related("provider"), pk=pk)
    form = DecisionForm(initial={"expected_status": app.status, "expected_version": app.version})
    return _application_page(request, app, form)


def _application_page(
    request: HttpRequest, app: Application, form: DecisionForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "partners/desk/application.html",
        {
            "app": app,
            "form": form,
            "now": timezone.now(),
            "shops": app.shops.select_related("contract", "shop"),
            "documents": app.documents.all(),
            "trail": app.trail.select_related("actor"),
            "identity": IdentityCheck.objects.filter(provider=app.provider).first(),
            "awaiting": app.status in Application.AWAITING_STAFF,
            "changes": [
                (key, getattr(app.provider, key), value)
                for key, value in app.details.items()
                if app.stage == "details_change" and hasattr(app.provider, key)
            ],
        },
        status=status,
    )


@auditor_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(Application.objects.select_related("provider"), pk=pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.application_decide(
                application_id=app.pk,
                expected_status=form.cleaned_data["expected_status"],
                expected_version=form.cleaned_data["expected_version"],
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                by_id=user_id(request),
            )
        except PartnerError as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, _("Decision recorded; the applicant has been emailed."))
            return redirect("partners:desk")
    app.refresh_from_db()
    return _application_page(request, app, form, status=400)


@auditor_required
def providers(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    found = Provider.objects.all()
    if query:
        found = found.filter(
            Q(legal_name__icontains=query) | Q(registration_number__icontains=query)
        )
    return render(
        request, "partners/desk/providers.html", {"providers": found[:200], "query": query}
    )


FORMS = {
    "identity": IdentityDecisionForm,
    "deposit": DepositForm,
    "suspend": SuspendForm,
    "reinstate": MessageForm,
    "revoke": ReasonForm,
    "update": UpdateRequestForm,
    "message": MessageForm,
}


def _end_of(day: Any) -> datetime:
    return datetime.combine(day, time.max, tzinfo=program_timezone())


@auditor_required
def provider(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Provider, pk=pk)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms = {name: cls(request.POST if action == name else None) for name, cls in FORMS.items()}
    if action in forms and forms[action].is_valid():
        form = forms[action]
        data = form.cleaned_data
        try:
            if action == "identity":
                check = IdentityCheck.objects.filter(provider=found, status="pending").first()
                if check is None:
                    raise PartnerError(
                        "identity_decided", _("No identity check is awaiting a decision.")
                    )
                services.identity_check_decide(
                    check_id=check.pk,
                    verified=data["verified"],
                    note=data["note"],
                    by_id=user_id(request),
                )
            elif action == "deposit":
                if not request.user.has_perm("partners.record_deposit"):
                    raise PermissionDenied
                services.deposit_record(
                    provider_id=found.pk,
                    kind=data["kind"],
                    amount=data["amount"],
                    reference=data["reference"],
                    reason=data["reason"],
                    by_id=user_id(request),
                )
            elif action == "suspend":
                until = _end_of(data["until"]) if data["until"] else None
                services.provider_suspend(
                    provider_id=found.pk, reason=data["reason"], until=until, by_id=user_id(request)
                )
            elif action == "reinstate":
                services.provider_reinstate(
                    provider_id=found.pk, note=data["note"], by_id=user_id(request)
                )
            elif action == "revoke":
                services.provider_revoke(
                    provider_id=found.pk, reason=data["reason"], by_id=user_id(request)
                )
            elif action == "update":
                services.provider_update_request(
                    provider_id=found.pk,
                    deadline=_end_of(data["deadline"]),
                    note=data["note"],
                    by_id=user_id(request),
                )
            elif action == "message":
                services.provider_message(
                    provider_id=found.pk, note=data["note"], by_id=user_id(request)
                )
        except PartnerError as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, _("Done."))
            return redirect("partners:desk_provider", pk=found.pk)
    found.refresh_from_db()
    failed = any(f.errors for f in forms.values())
    return render(
        request,
        "partners/desk/provider.html",
        {
            "p": found,
            "forms": forms,
            "standing": selectors.provider_standing(found),
            "position": selectors.deposit_position(found.pk),
            "statement": selectors.deposit_statement(found.pk),
            "applications": Application.objects.filter(provider=found).order_by("-created_at"),
            "documents": selectors.documents_of(found),
            "trail": selectors.trail_of(found),
            "identity": IdentityCheck.objects.filter(provider=found).first(),
            "people": found.people.select_related("member"),
            "refusals": selectors.publish_refusals(found.pk),
        },
        status=400 if failed else 200,
    )
