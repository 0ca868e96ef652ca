"""The partner portal (/partners/): server-rendered pages for the people of a partner company.
Every object is looked up within the signed-in person's company: another company's
application or document is a 404, never a 403 that would confirm it exists."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .documents import CheckedUpload, upload_check
from .errors import PartnerError
from .forms import (
    RESUBMIT_DETAILS,
    CompanyEditForm,
    DetailsChangeForm,
    IdentityForm,
    InternationalForm,
    InviteForm,
    OperatorForm,
    PresentationForm,
    RegisterForm,
    ResubmitForm,
    ShopFormSet,
    show_refusal,
)
from .models import Application, Document, IdentityCheck, Invitation, ProviderMember
from .storage import document_storage

View = Callable[..., HttpResponseBase]


def user_id(request: HttpRequest) -> int:
    """The signed-in person's id (the views are behind login_required)."""
    return int(request.user.pk or 0)


def partner_required(view: View) -> View:
    """Signed in and working for a company: `request.partner` is the person."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        person = selectors.person_of(request.user)
        if person is None:
            return redirect("partners:home")
        request.partner = person  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def _person(request: HttpRequest) -> ProviderMember:
    person: ProviderMember = request.partner  # type: ignore[attr-defined]
    return person


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    person = getattr(request, "partner", None)
    context.setdefault("person", person)
    context.setdefault("provider", person.provider if person else None)
    return render(request, f"partners/{template}", context, status=status)


def _checked(form: Any, name: str, kind: str) -> CheckedUpload | None:
    try:
        return upload_check(form.cleaned_data.get(name), kind=kind, field=name)
    except PartnerError as refusal:
        show_refusal(form, refusal)
        return None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The roadmap: the three stages and exactly what is missing or awaited."""
    person = selectors.person_of(request.user)
    if person is None:
        pending = Invitation.objects.filter(
            email=request.user.email.lower(),  # type: ignore[union-attr]
            accepted_at=None,
            expires_at__gt=timezone.now(),
        ).select_related("provider")
        return _render(request, "welcome.html", {"invitations": pending})
    request.partner = person  # type: ignore[attr-defined]
    provider = person.provider
    return _render(
        request,
        "roadmap.html",
        {
            "steps": selectors.roadmap(provider),
            "standing": selectors.provider_standing(provider),
            "position": selectors.deposit_position(provider.pk),
            "recent": selectors.trail_of(provider)[:5],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if selectors.person_of(request.user) is not None:
        return redirect("partners:home")
    form = RegisterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        uploads = [
            _checked(form, "licence", Document.Kind.BUSINESS_LICENCE),
            _checked(form, "identity", Document.Kind.IDENTITY),
            _checked(form, "identity_second", Document.Kind.IDENTITY_SECOND),
        ]
        if all(uploads):
            data = {k: form.cleaned_data[k] for k in CompanyEditForm.base_fields}
            try:
                services.provider_register(
                    member_id=user_id(request),
                    company=services.CompanyDetails(**data),
                    licence=uploads[0],  # type: ignore[arg-type]
                    identity=uploads[1],  # type: ignore[arg-type]
                    identity_second=uploads[2],  # type: ignore[arg-type]
                )
            except PartnerError as refusal:
                show_refusal(form, refusal)
            else:
                messages.success(request, _("Your company is registered; staff will audit it."))
                return redirect("partners:home")
    return _render(request, "register.html", {"form": form}, status=400 if form.errors else 200)


@partner_required
@require_http_methods(["GET", "POST"])
def company(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    initial = {name: getattr(provider, name) for name in CompanyEditForm.base_fields}
    form = CompanyEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "country"}
        try:
            change = services.provider_details_update(
                member_id=user_id(request), provider_id=provider.pk, values=values
            )
        except PartnerError as refusal:
            show_refusal(form, refusal)
        else:
            if change is not None:
                messages.success(
                    request,
                    _(
                        "Your change of registered details was sent to staff; the current details stay in force until it is approved."
                    ),
                )
            else:
                messages.success(request, _("Company details saved."))
            return redirect("partners:company")
    return _render(
        request,
        "company.html",
        {
            "form": form,
            "pending_change": Application.objects.filter(provider=provider, stage="details_change")
            .open()
            .first(),
        },
        status=400 if form.errors else 200,
    )


@partner_required
@require_http_methods(["GET", "POST"])
def identity(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    form = IdentityForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        first = _checked(form, "identity", Document.Kind.IDENTITY)
        second = _checked(form, "identity_second", Document.Kind.IDENTITY_SECOND)
        if first and second:
            try:
                services.identity_check_renew(
                    member_id=user_id(request),
                    provider_id=provider.pk,
                    identity=first,
                    identity_second=second,
                )
            except PartnerError as refusal:
                show_refusal(form, refusal)
            else:
                messages.success(request, _("New identity documents sent for verification."))
                return redirect("partners:home")
    checks = IdentityCheck.objects.filter(provider=provider)
    return _render(
        request,
        "identity.html",
        {"form": form, "checks": checks},
        status=400 if form.errors else 200,
    )


@partner_required
def applications(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    return _render(
        request,
        "applications.html",
        {"applications": Application.objects.filter(provider=provider).order_by("-created_at")},
    )


@partner_required
@require_http_methods(["GET", "POST"])
def application(request: HttpRequest, pk: int) -> HttpResponse:
    provider = _person(request).provider
    app = get_object_or_404(Application, pk=pk, provider=provider)
    resubmitting = request.POST.get("action") == "resubmit"
    resubmit = ResubmitForm(
        request.POST if resubmitting else None, request.FILES if resubmitting else None
    )
    details_class = RESUBMIT_DETAILS.get(app.stage)
    initial = dict(app.details)
    if app.stage == "details_change":
        initial = {
            **{
                k: getattr(provider, k)
                for k in DetailsChangeForm.base_fields
                if k != "payment_account_kind"
            },
            **initial,
        }
    details_form = (
        details_class(request.POST if resubmitting else None, initial=initial)
        if details_class
        else None
    )
    upload = PresentationForm(
        request.POST if request.POST.get("action") == "presentation" else None,
        request.FILES if request.POST.get("action") == "presentation" else None,
    )
    if request.method == "POST":
        try:
            version = int(request.POST.get("expected_version", ""))
        except ValueError:
            version = -1
        details_ok = details_form is None or details_form.is_valid()
        if resubmitting and resubmit.is_valid() and details_ok:
            documents = []
            if resubmit.cleaned_data.get("document"):
                kind = resubmit.cleaned_data.get("document_kind") or Document.Kind.BUSINESS_LICENCE
                checked = _checked(resubmit, "document", kind)
                if checked is not None:
                    documents.append((kind, checked))
            if not resubmit.errors:
                details = {"applicant_note": resubmit.cleaned_data["note"]}
                if details_form is not None:
                    details.update({k: str(v) for k, v in details_form.cleaned_data.items()})
                try:
                    services.application_resubmit(
                        member_id=user_id(request),
                        application_id=app.pk,
                        expected_version=version,
                        details=details,
                        documents=documents,
                    )
                except PartnerError as refusal:
                    target = (
                        details_form
                        if details_form is not None and refusal.field in details_form.fields
                        else resubmit
                    )
                    show_refusal(target, refusal)
                else:
                    messages.success(request, _("Application resubmitted."))
                    return redirect("partners:application", pk=app.pk)
        elif request.POST.get("action") == "presentation" and upload.is_valid():
            checked = _checked(upload, "presentation", Document.Kind.PRESENTATION)
            if checked:
                try:
                    services.presentation_upload(
                        member_id=user_id(request),
                        application_id=app.pk,
                        expected_version=version,
                        presentation=checked,
                    )
                except PartnerError as refusal:
                    show_refusal(upload, refusal)
                else:
                    messages.success(request, _("Presentation uploaded; staff will review it."))
                    return redirect("partners:application", pk=app.pk)
    failed = bool(
        resubmit.errors or upload.errors or (details_form is not None and details_form.errors)
    )
    return _render(
        request,
        "application.html",
        {
            "app": app,
            "shops": app.shops.select_related("contract"),
            "documents": app.documents.all(),
            "trail": app.trail.select_related("actor"),
            "resubmit": resubmit,
            "details_form": details_form,
            "upload": upload,
        },
        status=400 if failed else 200,
    )


def _shop_requests(formset: Any) -> list[services.ShopRequest] | None:
    requests = []
    ok = True
    for form in formset.forms:
        if not form.has_changed():
            continue
        checked = _checked(form, "contract", Document.Kind.CONTRACT)
        if checked is None:
            ok = False
            continue
        requests.append(
            services.ShopRequest(
                nickname=form.cleaned_data["nickname"],
                contract_nickname=form.cleaned_data["contract_nickname"],
                contract=checked,
            )
        )
    return requests if ok else None


@partner_required
@require_http_methods(["GET", "POST"])
def apply_operator(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    form = OperatorForm(request.POST or None)
    shops = ShopFormSet(request.POST or None, request.FILES or None, prefix="shops")
    refused = ""
    if request.method == "POST" and form.is_valid() and shops.is_valid():
        requests = _shop_requests(shops)
        if requests is not None:
            try:
                app = services.operator_apply(
                    member_id=user_id(request),
                    provider_id=provider.pk,
                    details={k: str(v) for k, v in form.cleaned_data.items()},
                    shops=requests,
                )
            except PartnerError as refusal:
                if refusal.field and refusal.field.startswith("shops-"):
                    _prefix, index, name = refusal.field.split("-", 2)
                    shops.forms[int(index)].add_error(name, refusal.message)
                elif refusal.field in form.fields:
                    show_refusal(form, refusal)
                else:
                    refused = str(refusal.message)
            else:
                if app.status == Application.Status.UNQUALIFIED:
                    messages.error(
                        request,
                        _(
                            "Unqualified store application: see why below, then submit a new application."
                        ),
                    )
                else:
                    messages.success(request, _("Application submitted; staff will audit it."))
                return redirect("partners:application", pk=app.pk)
    failed = bool(
        form.errors or any(f.errors for f in shops.forms) or shops.non_form_errors() or refused
    )
    return _render(
        request,
        "apply_operator.html",
        {"form": form, "shops": shops, "refused": refused},
        status=400 if failed else 200,
    )


@partner_required
@require_http_methods(["GET", "POST"])
def apply_international(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    form = InternationalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            app = services.international_apply(
                member_id=user_id(request), provider_id=provider.pk, details=dict(form.cleaned_data)
            )
        except PartnerError as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, _("Application submitted; staff will audit it."))
            return redirect("partners:application", pk=app.pk)
    return _render(
        request, "apply_international.html", {"form": form}, status=400 if form.errors else 200
    )


@partner_required
def documents(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    return _render(request, "documents.html", {"documents": selectors.documents_of(provider)})


def document_response(document: Document) -> FileResponse:
    """The file, from private storage: inline, its checked type, never cached by a proxy."""
    handle = document_storage().open(document.file.name, "rb")
    response = FileResponse(handle, content_type=document.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def document_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A document, to a person of its company or an auditor; anyone else gets a 404."""
    if request.user.has_perm("partners.view_document"):
        document = get_object_or_404(Document, pk=pk)
    else:
        person = selectors.person_of(request.user)
        if person is None:
            raise Http404
        document = get_object_or_404(Document, pk=pk, provider_id=person.provider_id)
    return document_response(document)


@partner_required
def deposit(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    return _render(
        request,
        "deposit.html",
        {
            "statement": selectors.deposit_statement(provider.pk),
            "position": selectors.deposit_position(provider.pk),
            "standing": selectors.provider_standing(provider),
        },
    )


@partner_required
def trail(request: HttpRequest) -> HttpResponse:
    provider = _person(request).provider
    return _render(request, "trail.html", {"trail": selectors.trail_of(provider)})


@partner_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                member_id=user_id(request),
                provider_id=person.provider_id,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except PartnerError as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, _("Invitation sent."))
            return redirect("partners:team")
    return _render(
        request,
        "team.html",
        {
            "form": form,
            "people": person.provider.people.select_related("member"),
            "invitations": Invitation.objects.filter(
                provider_id=person.provider_id,
                accepted_at=None,
                expires_at__gt=timezone.now(),
            ),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = Invitation.objects.select_related("provider").filter(token=token).first()
    if found is None:
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            services.invitation_accept(token=token, member_id=user_id(request))
        except PartnerError as refusal:
            error = str(refusal.message)
        else:
            messages.success(
                request, _("Welcome to %(company)s.") % {"company": found.provider.legal_name}
            )
            return redirect("partners:home")
    return _render(
        request,
        "invitation.html",
        {"invitation": found, "error": error},
        status=400 if error else 200,
    )
