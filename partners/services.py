"""Every write of the partners app. Views, the audit desk, the admin, tasks and commands call
these; each is one transaction.

State changes of an application are guarded updates: the row moves only from the state (and
version) the actor saw, so two auditors deciding at once produce one decision and the other is
told that the application has moved on (`stale_application`).

Every change of state of an application, a certification or the company's standing records a
domain event in the same transaction (core.outbox): `partner.application.changed`,
`partner.certification.changed`, `partner.standing.changed`, with the company's id (and the
application's) as their subject; webhooks send them to the company's own endpoints."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core import outbox, text
from core.clock import program_today
from core.mail import email_subject
from members.models import Member

from . import selectors
from .documents import CheckedUpload, document_store, files_cleaned_on_error
from .errors import PartnerError
from .models import (
    Application,
    ApplicationShop,
    AuditEvent,
    Certification,
    DepositEntry,
    Document,
    IdentityCheck,
    Invitation,
    PartnerProgram,
    Provider,
    ProviderMember,
    Shop,
    ShopOperation,
    Stage,
)
from .verification import identity_verifier
from .workdays import audit_due_at

log = logging.getLogger(__name__)

Status = Application.Status
REGISTERED_FIELDS = (
    "legal_name",
    "registration_number",
    "payment_account_name",
    "payment_account_number",
    "payment_provider",
)
OPEN_FIELDS = ("address", "contact_name", "contact_email", "contact_phone")


# --- domain events ------------------------------------------------------------------------
def _application_changed(application: Application, from_status: str, to_status: str) -> None:
    outbox.emit(
        "partner.application.changed",
        {"stage": application.stage, "from": from_status or None, "to": to_status},
        subject={"provider": application.provider_id, "application": application.pk},
    )


def _certification_changed(certification: Certification, from_status: str) -> None:
    outbox.emit(
        "partner.certification.changed",
        {
            "stage": certification.stage,
            "from": from_status or None,
            "to": certification.status,
        },
        subject={
            "provider": certification.provider_id,
            "application": certification.application_id,
            "certification": certification.pk,
        },
    )


def _standing_changed(
    provider_ids: Sequence[int],
    from_standing: str,
    to_standing: str,
    reason: str = "",
    until: datetime | None = None,
) -> None:
    outbox.emit_many(
        "partner.standing.changed",
        [
            outbox.Event(
                data={
                    "from": from_standing,
                    "to": to_standing,
                    "reason": reason,
                    "suspended_until": until,
                },
                subject={"provider": provider_id},
            )
            for provider_id in provider_ids
        ],
    )


# --- helpers --------------------------------------------------------------------------------
def _trail(
    provider_id: int,
    action: str,
    *,
    application: Application | None = None,
    actor_id: int | None = None,
    by_staff: bool = False,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    clock_started_at: datetime | None = None,
    due_at: datetime | None = None,
    notify: bool = False,
) -> AuditEvent:
    """A line of the trail; with `notify`, the company's people are emailed about it after
    the commit (staff actions that are not application decisions, which have their own). A
    line that moves an application to a state (`to_status`) records its domain event."""
    event = AuditEvent.objects.create(
        provider_id=provider_id,
        application=application,
        actor_id=actor_id,
        by_staff=by_staff,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        clock_started_at=clock_started_at,
        due_at=due_at,
    )
    if application is not None and to_status:
        _application_changed(application, from_status, to_status)
    if notify:
        transaction.on_commit(lambda: event_email_send(event_id=event.pk))
    return event


def _person(*, member_id: int, provider_id: int, owner: bool = False) -> ProviderMember:
    person = ProviderMember.objects.filter(member_id=member_id, provider_id=provider_id).first()
    if person is None or (owner and person.role != ProviderMember.Role.OWNER):
        raise PartnerError("not_allowed", _("You may not do this for this company."))
    return person


def _due(started: datetime) -> datetime:
    return audit_due_at(started, PartnerProgram.load().audit_working_days)


def _application_submit(
    provider: Provider, stage: str, member_id: int, details: dict[str, Any] | None = None
) -> Application:
    """A new application of `stage`, submitted now with its audit due in the working days
    the settings give, and the trail's entry that starts the clock."""
    now = timezone.now()
    application = Application.objects.create(
        provider=provider,
        stage=stage,
        status=Status.SUBMITTED,
        details=details or {},
        submitted_at=now,
        due_at=_due(now),
        created_by_id=member_id,
    )
    _trail(
        provider.pk,
        "submitted",
        application=application,
        actor_id=member_id,
        to_status=Status.SUBMITTED,
        clock_started_at=now,
        due_at=application.due_at,
    )
    return application


def _move(
    application_id: int, *, expected_status: str, expected_version: int, **changes: Any
) -> Application:
    """The guarded update: the row moves only from what the actor saw."""
    moved = Application.objects.filter(
        pk=application_id, status=expected_status, version=expected_version
    ).update(version=F("version") + 1, **changes)
    if moved != 1:
        raise PartnerError(
            "stale_application",
            _("This application has changed since you opened it; reload it to see its state."),
        )
    return Application.objects.select_related("provider").get(pk=application_id)


def _payment_kind_check(kind: str) -> None:
    if kind != Provider.PaymentKind.CORPORATE:
        raise PartnerError(
            "personal_payment_account",
            _(
                "A personal payment account cannot be bound: bind your company's corporate "
                "payment account."
            ),
            "payment_account_kind",
        )


def _clean(value: str) -> str:
    return " ".join((value or "").split())


# --- registration -------------------------------------------------------------------------
@dataclass(frozen=True)
class CompanyDetails:
    legal_name: str
    registration_number: str
    country: str
    address: str
    contact_name: str
    contact_email: str
    contact_phone: str
    payment_account_name: str
    payment_account_number: str
    payment_provider: str
    payment_account_kind: str


@transaction.atomic
def provider_register(
    *,
    member_id: int,
    company: CompanyDetails,
    licence: CheckedUpload,
    identity: CheckedUpload,
    identity_second: CheckedUpload,
) -> Provider:
    """A person registers a company: its registered details, a corporate payment account,
    the business licence and the contact person's identity documents. The registration is
    then audited by staff, and the identity checked by the configured verifier."""
    _payment_kind_check(company.payment_account_kind)
    if ProviderMember.objects.filter(member_id=member_id).exists():
        raise PartnerError("already_in_company", _("You already work for a registered company."))
    country = company.country.strip().upper()
    number = company.registration_number.strip().upper()
    if Provider.objects.filter(country=country, registration_number=number).exists():
        raise PartnerError(
            "registration_number_taken",
            _("A company with this registration number is already registered in this country."),
            "registration_number",
        )
    with files_cleaned_on_error():
        try:
            with transaction.atomic():
                provider = Provider.objects.create(
                    legal_name=_clean(company.legal_name),
                    registration_number=number,
                    country=country,
                    address=company.address.strip(),
                    contact_name=_clean(company.contact_name),
                    contact_email=company.contact_email.strip(),
                    contact_phone=_clean(company.contact_phone),
                    payment_account_name=_clean(company.payment_account_name),
                    payment_account_number=_clean(company.payment_account_number),
                    payment_provider=_clean(company.payment_provider),
                    payment_account_kind=company.payment_account_kind,
                )
        except IntegrityError as exc:  # registered by someone else a moment ago
            raise PartnerError(
                "registration_number_taken",
                _("A company with this registration number is already registered in this country."),
                "registration_number",
            ) from exc
        ProviderMember.objects.create(
            provider=provider, member_id=member_id, role=ProviderMember.Role.OWNER
        )
        _trail(provider.pk, "registered", actor_id=member_id)
        application = _application_submit(provider, Stage.REGISTRATION, member_id)
        for checked, kind in (
            (licence, Document.Kind.BUSINESS_LICENCE),
            (identity, Document.Kind.IDENTITY),
            (identity_second, Document.Kind.IDENTITY_SECOND),
        ):
            document_store(
                checked=checked,
                kind=kind,
                provider_id=provider.pk,
                uploaded_by_id=member_id,
                application_id=application.pk,
            )
        verifier = identity_verifier()
        check = IdentityCheck.objects.create(
            provider=provider, person_name=provider.contact_name, verifier=verifier.name
        )
        transaction.on_commit(lambda: verifier.submit(check))
    return provider


@transaction.atomic
def identity_check_decide(*, check_id: int, verified: bool, note: str, by_id: int | None) -> None:
    """The verifier's answer (staff on the audit desk, or a provider's webhook)."""
    check = IdentityCheck.objects.select_for_update().get(pk=check_id)
    if check.status != IdentityCheck.Status.PENDING:
        raise PartnerError("identity_decided", _("This identity check has already been decided."))
    if not verified and not note.strip():
        raise PartnerError(
            "reason_required", _("Give the reason; the applicant will see it."), "note"
        )
    check.status = IdentityCheck.Status.VERIFIED if verified else IdentityCheck.Status.FAILED
    check.note = note.strip()
    check.checked_by_id = by_id
    check.checked_at = timezone.now()
    check.save(update_fields=["status", "note", "checked_by", "checked_at"])
    _trail(
        check.provider_id,
        "identity_verified" if verified else "identity_failed",
        actor_id=by_id,
        by_staff=by_id is not None,
        note=check.note,
        notify=True,
    )


@transaction.atomic
def identity_check_renew(
    *, member_id: int, provider_id: int, identity: CheckedUpload, identity_second: CheckedUpload
) -> IdentityCheck:
    """New identity documents after a failed check."""
    _person(member_id=member_id, provider_id=provider_id)
    if IdentityCheck.objects.filter(
        provider_id=provider_id, status=IdentityCheck.Status.PENDING
    ).exists():
        raise PartnerError("identity_pending", _("An identity check is already in progress."))
    provider = Provider.objects.get(pk=provider_id)
    with files_cleaned_on_error():
        for checked, kind in (
            (identity, Document.Kind.IDENTITY),
            (identity_second, Document.Kind.IDENTITY_SECOND),
        ):
            document_store(
                checked=checked, kind=kind, provider_id=provider_id, uploaded_by_id=member_id
            )
        verifier = identity_verifier()
        check = IdentityCheck.objects.create(
            provider=provider, person_name=provider.contact_name, verifier=verifier.name
        )
        transaction.on_commit(lambda: verifier.submit(check))
    return check


# --- operator and international applications -------------------------------------------------
@dataclass(frozen=True)
class ShopRequest:
    nickname: str
    contract_nickname: str
    contract: CheckedUpload


def _refuse_unless_in_good_standing(provider: Provider) -> None:
    if selectors.provider_standing(provider) != Provider.Standing.GOOD:
        raise PartnerError(
            "provider_not_in_good_standing",
            _("Your company's certification is suspended or revoked."),
        )


def _refuse_if_open(provider_id: int, stage: str) -> None:
    if Application.objects.filter(provider_id=provider_id, stage=stage).open().exists():
        raise PartnerError("application_open", _("An application for this stage is already open."))


def shop_assess(*, shop: Shop | None, provider: Provider, program: PartnerProgram) -> list[str]:
    """The system assessment of one shop against the rules staff configure: the codes of the
    rules it fails (empty when it passes)."""
    if shop is None:
        return ["shop_unknown"]
    failures = []
    if program.check_shop_active and not shop.active:
        failures.append("shop_inactive")
    if (
        program.check_shop_not_operated
        and ShopOperation.objects.filter(shop=shop, ended_at=None)
        .exclude(provider=provider)
        .exists()
    ):
        failures.append("shop_operated_by_another")
    if (program_today() - shop.opened_on).days < program.min_trading_days:
        failures.append("shop_too_new")
    if program.check_no_open_violations and shop.open_violations > 0:
        failures.append("shop_open_violation")
    return failures


def _same_company(shop: Shop, provider: Provider) -> bool:
    if shop.owner_registration_number and (
        shop.owner_registration_number.strip().upper() == provider.registration_number
    ):
        return True
    return text.normalize(shop.owner_company) == text.normalize(provider.legal_name)


@transaction.atomic
def operator_apply(
    *, member_id: int, provider_id: int, details: dict[str, str], shops: Sequence[ShopRequest]
) -> Application:
    """Apply for operator certification. Refused (nothing stored) before registration, with a
    nickname that does not match its contract, or a shop the applicant itself owns. Otherwise
    the system assessment runs at once: a shop that fails makes the application an
    "unqualified store application" (kept, closed: apply anew); else it awaits staff."""
    _person(member_id=member_id, provider_id=provider_id)
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    if not selectors.certified(provider_id, Stage.REGISTRATION):
        raise PartnerError(
            "registration_required",
            _("Your company's registration must be approved before it applies as an operator."),
        )
    _refuse_unless_in_good_standing(provider)
    if selectors.certified(provider_id, Stage.OPERATOR, active_only=False):
        raise PartnerError(
            "already_certified", _("Your company is already certified as an operator.")
        )
    _refuse_if_open(provider_id, Stage.OPERATOR)
    if not shops:
        raise PartnerError("shop_required", _("Name at least one shop."))
    program = PartnerProgram.load()
    found: list[tuple[ShopRequest, Shop | None]] = []
    seen: set[str] = set()
    for i, request in enumerate(shops):
        key = text.normalize(request.nickname)
        if key in seen:
            raise PartnerError(
                "shop_twice", _("This shop is already in the application."), f"shops-{i}-nickname"
            )
        seen.add(key)
        if text.normalize(request.contract_nickname) != key:
            raise PartnerError(
                "nickname_mismatch",
                _("The shop nickname must be the one written in the uploaded operating contract."),
                f"shops-{i}-contract_nickname",
            )
        shop = Shop.objects.filter(nickname_key=key).first()
        if shop is not None and _same_company(shop, provider):
            raise PartnerError(
                "shop_owned_by_operator",
                _("The shop's owner must be a different company than the operator."),
                f"shops-{i}-nickname",
            )
        found.append((request, shop))
    assessed = [(r, s, shop_assess(shop=s, provider=provider, program=program)) for r, s in found]
    unqualified = any(failures for _r, _s, failures in assessed)
    now = timezone.now()
    with files_cleaned_on_error():
        application = Application.objects.create(
            provider=provider,
            stage=Stage.OPERATOR,
            status=Status.UNQUALIFIED if unqualified else Status.SUBMITTED,
            details=details,
            assessment=[
                {"nickname": r.nickname, "failures": failures} for r, _s, failures in assessed
            ],
            submitted_at=now,
            due_at=None if unqualified else _due(now),
            decided_at=now if unqualified else None,
            created_by_id=member_id,
        )
        for request, shop, failures in assessed:
            contract = document_store(
                checked=request.contract,
                kind=Document.Kind.CONTRACT,
                provider_id=provider_id,
                uploaded_by_id=member_id,
                application_id=application.pk,
            )
            ApplicationShop.objects.create(
                application=application,
                shop=shop,
                nickname=_clean(request.nickname),
                contract_nickname=_clean(request.contract_nickname),
                contract=contract,
                failures=failures,
            )
        _trail(
            provider_id,
            "unqualified" if unqualified else "submitted",
            application=application,
            actor_id=member_id,
            to_status=application.status,
            clock_started_at=None if unqualified else now,
            due_at=application.due_at,
        )
    return application


@transaction.atomic
def international_apply(
    *, member_id: int, provider_id: int, details: dict[str, str]
) -> Application:
    """Apply for international operator certification: only a certified operator."""
    _person(member_id=member_id, provider_id=provider_id)
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    if not selectors.certified(provider_id, Stage.OPERATOR):
        raise PartnerError(
            "operator_certification_required",
            _("Only a certified operator may apply for international operator certification."),
        )
    _refuse_unless_in_good_standing(provider)
    if selectors.certified(provider_id, Stage.INTERNATIONAL, active_only=False):
        raise PartnerError(
            "already_certified", _("Your company is already certified for this stage.")
        )
    _refuse_if_open(provider_id, Stage.INTERNATIONAL)
    return _application_submit(provider, Stage.INTERNATIONAL, member_id, details)


@transaction.atomic
def application_resubmit(
    *,
    member_id: int,
    application_id: int,
    expected_version: int,
    details: dict[str, str],
    documents: Sequence[tuple[str, CheckedUpload]] = (),
) -> Application:
    """The applicant edits an application staff sent back (its details, new documents) and
    resubmits it; the audit's clock starts again. An unqualified, rejected or approved
    application cannot be resubmitted (the guarded update finds it in another state)."""
    application = Application.objects.get(pk=application_id)
    _person(member_id=member_id, provider_id=application.provider_id)
    note = details.get("applicant_note", "")
    if application.stage == Stage.DETAILS_CHANGE:
        _payment_kind_check(details.pop("payment_account_kind", Provider.PaymentKind.CORPORATE))
        details = {k: _clean(v) for k, v in details.items() if k in REGISTERED_FIELDS}
        details["applicant_note"] = note
        if "registration_number" in details:
            details["registration_number"] = details["registration_number"].upper()
    now = timezone.now()
    due = _due(now)
    with files_cleaned_on_error():
        moved = _move(
            application_id,
            expected_status=Status.CHANGES_REQUESTED,
            expected_version=expected_version,
            status=Status.SUBMITTED,
            details={**application.details, **details},
            submitted_at=now,
            due_at=due,
            decided_at=None,
            decided_by=None,
        )
        for kind, checked in documents:
            document_store(
                checked=checked,
                kind=kind,
                provider_id=moved.provider_id,
                uploaded_by_id=member_id,
                application_id=moved.pk,
            )
        _trail(
            moved.provider_id,
            "resubmitted",
            application=moved,
            actor_id=member_id,
            from_status=Status.CHANGES_REQUESTED,
            to_status=Status.SUBMITTED,
            note=note,
            clock_started_at=now,
            due_at=due,
        )
    return moved


@transaction.atomic
def presentation_upload(
    *, member_id: int, application_id: int, expected_version: int, presentation: CheckedUpload
) -> Application:
    """After the company profile passed: the company presentation, for staff to approve."""
    application = Application.objects.get(pk=application_id)
    _person(member_id=member_id, provider_id=application.provider_id)
    now = timezone.now()
    due = _due(now)
    with files_cleaned_on_error():
        moved = _move(
            application_id,
            expected_status=Status.AWAITING_PRESENTATION,
            expected_version=expected_version,
            status=Status.PRESENTATION_REVIEW,
            submitted_at=now,
            due_at=due,
        )
        document_store(
            checked=presentation,
            kind=Document.Kind.PRESENTATION,
            provider_id=moved.provider_id,
            uploaded_by_id=member_id,
            application_id=application_id,
        )
        _trail(
            moved.provider_id,
            "presentation_uploaded",
            application=moved,
            actor_id=member_id,
            from_status=Status.AWAITING_PRESENTATION,
            to_status=Status.PRESENTATION_REVIEW,
            clock_started_at=now,
            due_at=due,
        )
    return moved


# --- the audit desk -----------------------------------------------------------------------
class Decision:
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    ALL = (APPROVE, REJECT, REQUEST_CHANGES)


@transaction.atomic
def application_decide(
    *,
    application_id: int,
    expected_status: str,
    expected_version: int,
    decision: str,
    note: str,
    by_id: int,
) -> Application:
    """Approve, reject (reason required) or request changes (note required). The row moves
    only from the state the auditor saw."""
    if decision not in Decision.ALL:
        raise PartnerError("unknown_decision", _("Unknown decision."))
    note = note.strip()
    if decision != Decision.APPROVE and not note:
        raise PartnerError(
            "reason_required", _("Give the reason; the applicant will see it."), "note"
        )
    application = Application.objects.select_related("provider").get(pk=application_id)
    if expected_status not in Application.AWAITING_STAFF:
        raise PartnerError("not_awaiting_audit", _("This application is not awaiting an audit."))
    if (application.status, application.version) != (expected_status, expected_version):
        raise PartnerError(
            "stale_application",
            _("This application has changed since you opened it; reload it to see its state."),
        )
    if (
        decision == Decision.APPROVE
        and application.stage == Stage.REGISTRATION
        and not IdentityCheck.objects.filter(
            provider_id=application.provider_id, status=IdentityCheck.Status.VERIFIED
        ).exists()
    ):
        raise PartnerError(
            "identity_not_verified",
            _(
                "The contact person's identity must be verified before the registration is approved."
            ),
        )
    now = timezone.now()
    started, due = application.submitted_at, application.due_at
    action: str
    if decision == Decision.REJECT:
        target, action = Status.REJECTED, "rejected"
    elif decision == Decision.REQUEST_CHANGES:
        in_presentation = expected_status == Status.PRESENTATION_REVIEW
        target = Status.AWAITING_PRESENTATION if in_presentation else Status.CHANGES_REQUESTED
        action = "changes_requested"
    elif application.stage == Stage.INTERNATIONAL and expected_status == Status.SUBMITTED:
        target, action = Status.AWAITING_PRESENTATION, "profile_approved"
    else:
        target, action = Status.APPROVED, "approved"
    closes = target in (Status.REJECTED, Status.APPROVED)
    moved = _move(
        application_id,
        expected_status=expected_status,
        expected_version=expected_version,
        status=target,
        decided_at=now,
        decided_by_id=by_id,
        decision_note=note,
        due_at=None if not closes and target != Status.SUBMITTED else application.due_at,
    )
    _trail(
        moved.provider_id,
        action,
        application=moved,
        actor_id=by_id,
        by_staff=True,
        from_status=expected_status,
        to_status=target,
        note=note,
        clock_started_at=started,
        due_at=due,
    )
    if target == Status.APPROVED:
        _grant(moved, by_id=by_id)
    transaction.on_commit(lambda: decision_email_send(application_id=moved.pk, action=action))
    return moved


def _grant(application: Application, *, by_id: int) -> None:
    provider_id = application.provider_id
    if application.stage == Stage.DETAILS_CHANGE:
        provider = Provider.objects.select_for_update().get(pk=provider_id)
        for name in REGISTERED_FIELDS:
            if name in application.details:
                setattr(provider, name, application.details[name])
        provider.registration_number = provider.registration_number.strip().upper()
        try:
            with transaction.atomic():
                provider.save(update_fields=list(REGISTERED_FIELDS))
        except IntegrityError as exc:
            raise PartnerError(
                "registration_number_taken",
                _("A company with this registration number is already registered in this country."),
            ) from exc
        _trail(
            provider_id, "details_updated", application=application, actor_id=by_id, by_staff=True
        )
        return
    if application.stage == Stage.OPERATOR:
        certification = Certification.objects.create(
            provider_id=provider_id,
            stage=Stage.OPERATOR,
            status=Certification.Status.DEPOSIT_DUE,
            application=application,
        )
        _certification_changed(certification, "")
        program = PartnerProgram.load()
        if program.deposit_amount > 0:
            DepositEntry.objects.create(
                provider_id=provider_id,
                kind=DepositEntry.Kind.REQUIRED,
                amount=program.deposit_amount,
                currency=program.deposit_currency,
                recorded_by_id=by_id,
            )
            _trail(
                provider_id,
                "deposit_required",
                application=application,
                by_staff=True,
                note=f"{program.deposit_amount} {program.deposit_currency}",
            )
        _activate_if_covered(provider_id)
        return
    certification = Certification.objects.create(
        provider_id=provider_id,
        stage=application.stage,
        status=Certification.Status.ACTIVE,
        application=application,
        activated_at=timezone.now(),
    )
    _certification_changed(certification, "")


def _activate_if_covered(provider_id: int) -> bool:
    position = selectors.deposit_position(provider_id)
    if position.due > 0:
        return False
    updated = Certification.objects.filter(
        provider_id=provider_id, stage=Stage.OPERATOR, status=Certification.Status.DEPOSIT_DUE
    ).update(status=Certification.Status.ACTIVE, activated_at=timezone.now())
    if updated:
        certification = Certification.objects.get(provider_id=provider_id, stage=Stage.OPERATOR)
        _certification_changed(certification, Certification.Status.DEPOSIT_DUE)
        shop_ids = ApplicationShop.objects.filter(
            application_id=certification.application_id, shop__isnull=False
        ).values_list("shop_id", flat=True)
        for shop_id in shop_ids:
            ShopOperation.objects.get_or_create(
                shop_id=shop_id, provider_id=provider_id, ended_at=None
            )
        _trail(
            provider_id,
            "certified",
            application=certification.application,
            by_staff=True,
            notify=True,
        )
    return bool(updated)


@transaction.atomic
def certification_activate(*, provider_id: int) -> None:
    """Make the operator certification active: refused unless the deposit held covers what
    is required."""
    Provider.objects.select_for_update().get(pk=provider_id)
    if not Certification.objects.filter(provider_id=provider_id, stage=Stage.OPERATOR).exists():
        raise PartnerError("not_approved", _("The operator application has not been approved."))
    if selectors.deposit_position(provider_id).due > 0:
        raise PartnerError(
            "deposit_not_covered",
            _(
                "The certification becomes active only when the deposit held covers the amount required."
            ),
        )
    _activate_if_covered(provider_id)


# --- the deposit ledger ---------------------------------------------------------------------
@transaction.atomic
def deposit_record(
    *,
    provider_id: int,
    kind: str,
    amount: Decimal,
    reference: str = "",
    reason: str = "",
    by_id: int,
) -> DepositEntry:
    """Record money received (with the payment reference), deducted for a violation (with the
    reason) or refunded. The database refuses a movement that would make the money held
    negative; the ledger's currency is the one the requirement was set in."""
    Provider.objects.select_for_update().get(pk=provider_id)
    if kind not in (
        DepositEntry.Kind.RECEIVED,
        DepositEntry.Kind.DEDUCTED,
        DepositEntry.Kind.REFUNDED,
    ):
        raise PartnerError("deposit_kind", _("Unknown kind of deposit movement."), "kind")
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if amount <= 0:
        raise PartnerError("deposit_amount", _("The amount must be more than zero."), "amount")
    if kind == DepositEntry.Kind.RECEIVED and not reference.strip():
        raise PartnerError("reference_required", _("Give the payment reference."), "reference")
    if kind == DepositEntry.Kind.DEDUCTED and not reason.strip():
        raise PartnerError(
            "reason_required", _("Give the reason; the applicant will see it."), "reason"
        )
    position = selectors.deposit_position(provider_id)
    if kind != DepositEntry.Kind.RECEIVED and amount > position.held:
        raise PartnerError(
            "deposit_insufficient",
            _("Only %(held)s %(currency)s is held.")
            % {"held": position.held, "currency": position.currency},
            "amount",
        )
    entry = DepositEntry.objects.create(
        provider_id=provider_id,
        kind=kind,
        amount=amount,
        currency=position.currency,
        reference=reference.strip(),
        reason=reason.strip(),
        recorded_by_id=by_id,
    )
    _trail(
        provider_id,
        f"deposit_{kind}",
        actor_id=by_id,
        by_staff=True,
        note=" · ".join(
            x for x in (f"{amount} {position.currency}", reference.strip(), reason.strip()) if x
        ),
        notify=True,
    )
    if kind == DepositEntry.Kind.RECEIVED:
        _activate_if_covered(provider_id)
    return entry


# --- information must stay current ------------------------------------------------------------
@transaction.atomic
def provider_details_update(
    *, member_id: int, provider_id: int, values: dict[str, str]
) -> Application | None:
    """Change the company's details: address and contact at once; legal name, registration
    number and payment account through a change request that staff audit (the old details
    stay in force until it is approved). Returns the change request, if one was made."""
    _person(member_id=member_id, provider_id=provider_id)
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    _payment_kind_check(values.get("payment_account_kind", Provider.PaymentKind.CORPORATE))
    changed_open = {
        name: values[name].strip()
        for name in OPEN_FIELDS
        if name in values and values[name].strip() != getattr(provider, name)
    }
    proposed = {
        name: _clean(values[name])
        for name in REGISTERED_FIELDS
        if name in values and _clean(values[name]) != getattr(provider, name)
    }
    if "registration_number" in proposed:
        proposed["registration_number"] = proposed["registration_number"].upper()
        if proposed["registration_number"] == provider.registration_number:
            proposed.pop("registration_number")
    if proposed and not selectors.certified(provider_id, Stage.REGISTRATION):
        # nothing is in force before the registration is approved: its own audit covers it
        changed_open.update(proposed)
        proposed = {}
    if changed_open:
        for name, value in changed_open.items():
            setattr(provider, name, value)
        try:
            with transaction.atomic():
                provider.save(update_fields=list(changed_open))
        except IntegrityError as exc:
            raise PartnerError(
                "registration_number_taken",
                _("A company with this registration number is already registered in this country."),
                "registration_number",
            ) from exc
        _trail(
            provider_id, "details_updated", actor_id=member_id, note=", ".join(sorted(changed_open))
        )
    application = None
    if proposed:
        _refuse_if_open(provider_id, Stage.DETAILS_CHANGE)
        application = _application_submit(provider, Stage.DETAILS_CHANGE, member_id, proposed)
    if (changed_open or proposed) and provider.update_deadline is not None:
        Provider.objects.filter(pk=provider_id).update(update_deadline=None, update_note="")
    return application


@transaction.atomic
def provider_update_request(*, provider_id: int, deadline: datetime, note: str, by_id: int) -> None:
    """Staff ask for outdated information to be updated by `deadline`; past it, the
    certification is suspended (providers_suspend_overdue)."""
    if not note.strip():
        raise PartnerError("note_required", _("Say what must be updated."), "note")
    Provider.objects.filter(pk=provider_id).update(
        update_deadline=deadline, update_note=note.strip()
    )
    _trail(
        provider_id,
        "update_requested",
        actor_id=by_id,
        by_staff=True,
        note=note.strip(),
        due_at=deadline,
        notify=True,
    )


@transaction.atomic
def providers_suspend_overdue(*, now: datetime | None = None) -> int:
    """Suspend every provider in good standing whose deadline to update passed."""
    now = now or timezone.now()
    overdue = list(
        Provider.objects.select_for_update()
        .filter(standing=Provider.Standing.GOOD, update_deadline__lt=now)
        .order_by("pk")
    )
    for provider in overdue:
        Provider.objects.filter(pk=provider.pk, standing=Provider.Standing.GOOD).update(
            standing=Provider.Standing.SUSPENDED,
            standing_reason=str(_("Information was not updated by the deadline.")),
            suspended_until=None,
        )
        _trail(provider.pk, "suspended", by_staff=True, note=provider.update_note, notify=True)
    _standing_changed(
        [p.pk for p in overdue],
        Provider.Standing.GOOD,
        Provider.Standing.SUSPENDED,
        str(_("Information was not updated by the deadline.")),
    )
    return len(overdue)


@transaction.atomic
def provider_suspend(*, provider_id: int, reason: str, until: datetime | None, by_id: int) -> None:
    if not reason.strip():
        raise PartnerError(
            "reason_required", _("Give the reason; the applicant will see it."), "reason"
        )
    # in good standing, or suspended until a moment that has passed (in force: good)
    in_good_standing = Q(standing=Provider.Standing.GOOD) | Q(
        standing=Provider.Standing.SUSPENDED, suspended_until__lte=timezone.now()
    )
    moved = Provider.objects.filter(in_good_standing, pk=provider_id).update(
        standing=Provider.Standing.SUSPENDED,
        standing_reason=reason.strip(),
        suspended_until=until,
    )
    if not moved:
        raise PartnerError("not_in_good_standing", _("This company is not in good standing."))
    _standing_changed(
        [provider_id], Provider.Standing.GOOD, Provider.Standing.SUSPENDED, reason.strip(), until
    )
    note = reason.strip() + (f" (→ {until:%Y-%m-%d})" if until else "")
    _trail(
        provider_id,
        "suspended",
        actor_id=by_id,
        by_staff=True,
        note=note,
        due_at=until,
        notify=True,
    )


@transaction.atomic
def provider_reinstate(*, provider_id: int, note: str, by_id: int) -> None:
    moved = Provider.objects.filter(pk=provider_id, standing=Provider.Standing.SUSPENDED).update(
        standing=Provider.Standing.GOOD,
        standing_reason="",
        suspended_until=None,
        update_deadline=None,
        update_note="",
    )
    if not moved:
        raise PartnerError("not_suspended", _("This company is not suspended."))
    _standing_changed(
        [provider_id], Provider.Standing.SUSPENDED, Provider.Standing.GOOD, note.strip()
    )
    _trail(provider_id, "reinstated", actor_id=by_id, by_staff=True, note=note.strip(), notify=True)


@transaction.atomic
def provider_revoke(*, provider_id: int, reason: str, by_id: int) -> None:
    """Revoke every certification; the shops are released and the deposit's return starts
    (staff record the refund with its reference)."""
    if not reason.strip():
        raise PartnerError(
            "reason_required", _("Give the reason; the applicant will see it."), "reason"
        )
    now = timezone.now()
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    if provider.standing == Provider.Standing.REVOKED:
        raise PartnerError("already_revoked", _("This company's certification is already revoked."))
    Provider.objects.filter(pk=provider_id).update(
        standing=Provider.Standing.REVOKED, standing_reason=reason.strip(), revoked_at=now
    )
    _standing_changed(
        [provider_id],
        selectors.provider_standing(provider, now),
        Provider.Standing.REVOKED,
        reason.strip(),
    )
    ShopOperation.objects.filter(provider_id=provider_id, ended_at=None).update(ended_at=now)
    position = selectors.deposit_position(provider_id)
    _trail(
        provider_id,
        "revoked",
        actor_id=by_id,
        by_staff=True,
        note=f"{reason.strip()} · {position.held} {position.currency}",
        notify=True,
    )


@transaction.atomic
def provider_message(*, provider_id: int, note: str, by_id: int) -> AuditEvent:
    if not note.strip():
        raise PartnerError("note_required", _("Write the message."), "note")
    return _trail(
        provider_id, "message", actor_id=by_id, by_staff=True, note=note.strip(), notify=True
    )


# --- publishing gate ------------------------------------------------------------------------
def provider_publish_check(*, provider_id: int) -> None:
    """The gate the publishing of services calls: refused unless every audit has passed and
    the certification is in force."""
    reasons = selectors.publish_refusals(provider_id)
    if reasons:
        raise PartnerError("not_certified", reasons[0])


def provider_may_publish(*, provider_id: int) -> bool:
    return not selectors.publish_refusals(provider_id)


# --- people ---------------------------------------------------------------------------------
@transaction.atomic
def invitation_create(*, member_id: int, provider_id: int, email: str, role: str) -> Invitation:
    """The owner invites a colleague by email."""
    _person(member_id=member_id, provider_id=provider_id, owner=True)
    if role not in ProviderMember.Role.values:
        raise PartnerError("role", _("Unknown role."), "role")
    email = email.strip().lower()
    if ProviderMember.objects.filter(member__email__iexact=email).exists():
        raise PartnerError(
            "already_in_company", _("This person already works for a company."), "email"
        )
    days = PartnerProgram.load().invitation_days
    invitation = Invitation.objects.create(
        provider_id=provider_id,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by_id=member_id,
        expires_at=timezone.now() + timedelta(days=days),
    )
    transaction.on_commit(lambda: invitation_email_send(invitation_id=invitation.pk))
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, member_id: int) -> ProviderMember:
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    member = Member.objects.get(pk=member_id)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at < timezone.now()
        or invitation.email != member.email.lower()
    ):
        raise PartnerError(
            "invitation_invalid", _("This invitation is not valid for your account.")
        )
    if ProviderMember.objects.filter(member_id=member_id).exists():
        raise PartnerError("already_in_company", _("You already work for a registered company."))
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    person = ProviderMember.objects.create(
        provider_id=invitation.provider_id, member_id=member_id, role=invitation.role
    )
    _trail(invitation.provider_id, "person_joined", actor_id=member_id, note=member.email)
    return person


# --- emails ---------------------------------------------------------------------------------
def _send(member: Member, template: str, context: dict[str, Any]) -> None:
    with translation.override(member.language or settings.LANGUAGE_CODE):
        subject = email_subject(f"partners/email/{template}_subject.txt", context)
        body = render_to_string(f"partners/email/{template}_body.txt", context)
    try:
        send_mail(subject, body, None, [member.email])
    except Exception:  # one refused address must not undo a decision already committed
        log.exception("partner email to member %s failed", member.pk)


def decision_email_send(*, application_id: int, action: str) -> None:
    """An email to each person of the company, in their own language, about a decision."""
    application = Application.objects.select_related("provider").get(pk=application_id)
    link = settings.SITE_URL.rstrip("/") + reverse(
        "partners:application", kwargs={"pk": application.pk}
    )
    people = Member.objects.filter(partner_membership__provider_id=application.provider_id)
    for member in people:
        with translation.override(member.language or settings.LANGUAGE_CODE):
            context = {
                "application": application,
                "stage": str(application.get_stage_display()),
                "status": str(application.get_status_display()),
                "note": application.decision_note,
                "link": link,
                "member": member,
            }
        _send(member, "decision", context)


def event_email_send(*, event_id: int) -> None:
    """An email to each person of the company about a staff action (identity check, deposit
    movement, suspension, revocation, a message...), in their own language."""
    from .labels import action_label

    event = AuditEvent.objects.select_related("provider").get(pk=event_id)
    link = settings.SITE_URL.rstrip("/") + reverse("partners:trail")
    people = Member.objects.filter(partner_membership__provider_id=event.provider_id)
    for member in people:
        with translation.override(member.language or settings.LANGUAGE_CODE):
            context = {
                "company": event.provider.legal_name,
                "what": str(action_label(event.action)),
                "note": event.note,
                "link": link,
                "member": member,
            }
        _send(member, "event", context)


def invitation_email_send(*, invitation_id: int) -> None:
    invitation = Invitation.objects.select_related("provider").get(pk=invitation_id)
    link = settings.SITE_URL.rstrip("/") + reverse(
        "partners:invitation", kwargs={"token": invitation.token}
    )
    body = render_to_string(
        "partners/email/invitation_body.txt", {"invitation": invitation, "link": link}
    )
    subject = email_subject("partners/email/invitation_subject.txt", {"invitation": invitation})
    send_mail(subject, body, None, [invitation.email])
