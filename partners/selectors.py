"""Reads shared by the partner portal, the audit desk and the services."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    Application,
    AuditEvent,
    Certification,
    DepositEntry,
    Document,
    IdentityCheck,
    PartnerProgram,
    Provider,
    ProviderMember,
    Stage,
)

ZERO = Decimal("0.00")


def provider_of(member: Any) -> Provider | None:
    """The company a signed-in person works for (None: not a partner)."""
    if not getattr(member, "is_authenticated", False):
        return None
    person = ProviderMember.objects.select_related("provider").filter(member=member).first()
    return person.provider if person else None


def person_of(member: Any) -> ProviderMember | None:
    return ProviderMember.objects.select_related("provider").filter(member=member).first()


def provider_standing(provider: Provider, now: datetime | None = None) -> str:
    """The standing in force: a suspension with an end date ends by itself."""
    now = now or timezone.now()
    if (
        provider.standing == Provider.Standing.SUSPENDED
        and provider.suspended_until is not None
        and provider.suspended_until <= now
    ):
        return Provider.Standing.GOOD
    return provider.standing


def certified(provider_id: int, stage: str, *, active_only: bool = True) -> bool:
    found = Certification.objects.filter(provider_id=provider_id, stage=stage)
    if active_only:
        found = found.filter(status=Certification.Status.ACTIVE)
    return found.exists()


@dataclass(frozen=True)
class DepositPosition:
    required: Decimal
    held: Decimal
    currency: str

    @property
    def due(self) -> Decimal:
        return max(self.required - self.held, ZERO)


def _signed() -> Case:
    return Case(
        When(kind=DepositEntry.Kind.RECEIVED, then=F("amount")),
        When(kind__in=[DepositEntry.Kind.DEDUCTED, DepositEntry.Kind.REFUNDED], then=-F("amount")),
        default=Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def deposit_position(provider_id: int) -> DepositPosition:
    """Required and held, summed from the ledger (the balance is the sum of its entries)."""
    entries = DepositEntry.objects.filter(provider_id=provider_id)
    totals = entries.aggregate(
        required=Sum("amount", filter=Q(kind=DepositEntry.Kind.REQUIRED)), held=Sum(_signed())
    )
    currency = entries.values_list("currency", flat=True).first()
    return DepositPosition(
        required=totals["required"] or ZERO,
        held=totals["held"] or ZERO,
        currency=currency or PartnerProgram.load().deposit_currency,
    )


def deposit_statement(provider_id: int) -> list[tuple[DepositEntry, Decimal]]:
    """Every entry with the money held after it."""
    held = ZERO
    rows = []
    for entry in DepositEntry.objects.filter(provider_id=provider_id).order_by("created_at", "id"):
        held += entry.signed_held
        rows.append((entry, held))
    return rows


def publish_refusals(provider_id: int, now: datetime | None = None) -> list[Any]:
    """Why the provider may not publish services yet (empty: it may)."""
    now = now or timezone.now()
    provider = Provider.objects.get(pk=provider_id)
    reasons: list[Any] = []
    standing = provider_standing(provider, now)
    if standing == Provider.Standing.REVOKED:
        reasons.append(_("The certification is revoked."))
    elif standing == Provider.Standing.SUSPENDED:
        reasons.append(_("The certification is suspended."))
    if provider.update_deadline is not None and provider.update_deadline < now:
        reasons.append(_("Outdated information was not updated by the deadline."))
    active = set(
        Certification.objects.filter(
            provider_id=provider_id, status=Certification.Status.ACTIVE
        ).values_list("stage", flat=True)
    )
    if Stage.OPERATOR in active:
        position = deposit_position(provider_id)
        if position.due > 0:
            reasons.append(
                _("The deposit held is below the amount required: %(due)s %(currency)s to pay.")
                % {"due": position.due, "currency": position.currency}
            )
    for stage, label in (
        (Stage.REGISTRATION, _("The service-provider registration is not approved yet.")),
        (Stage.OPERATOR, _("The operator certification is not active yet.")),
        (Stage.INTERNATIONAL, _("The international operator certification is not approved yet.")),
    ):
        if stage not in active:
            reasons.append(label)
    return reasons


# --- the roadmap ----------------------------------------------------------------------------
@dataclass
class RoadmapStep:
    stage: str
    title: Any
    state: str  # done, current, waiting (on staff), locked
    lines: list[Any] = field(default_factory=list)
    due_at: datetime | None = None
    action_url_name: str = ""
    action_label: Any = ""
    application: Application | None = None


def roadmap(provider: Provider) -> list[RoadmapStep]:
    """The three stages and the certified step, each with what is missing or awaited."""
    apps: dict[str, Application] = {}
    for application in Application.objects.filter(provider=provider).order_by("created_at"):
        apps[application.stage] = application  # the latest per stage
    certs = {c.stage: c for c in Certification.objects.filter(provider=provider)}
    identity = IdentityCheck.objects.filter(provider=provider).first()
    steps: list[RoadmapStep] = []

    def step_for(stage: str, title: Any) -> RoadmapStep:
        step = RoadmapStep(stage=stage, title=title, state="locked")
        cert = certs.get(stage)
        application = apps.get(stage)
        step.application = application
        if cert is not None and cert.status == Certification.Status.ACTIVE:
            step.state = "done"
            step.lines.append(_("Approved."))
            return step
        if cert is not None and cert.status == Certification.Status.DEPOSIT_DUE:
            position = deposit_position(provider.pk)
            step.state = "current"
            step.lines.append(
                _(
                    "Audit passed. Deposit due: %(due)s %(currency)s (held %(held)s of %(required)s)."
                )
                % {
                    "due": position.due,
                    "currency": position.currency,
                    "held": position.held,
                    "required": position.required,
                }
            )
            step.action_url_name, step.action_label = "partners:deposit", _("Deposit statement")
            return step
        if application is None:
            return step
        status = application.status
        if status in Application.AWAITING_STAFF:
            step.state = "waiting"
            step.due_at = application.due_at
            step.lines.append(_("Awaiting the staff audit."))
        elif status == Application.Status.CHANGES_REQUESTED:
            step.state = "current"
            step.lines.append(_("Staff asked for changes: edit and resubmit the application."))
        elif status == Application.Status.AWAITING_PRESENTATION:
            step.state = "current"
            step.lines.append(_("Company profile approved: upload the company presentation."))
        elif status == Application.Status.UNQUALIFIED:
            step.state = "current"
            step.lines.append(
                _(
                    "Unqualified store application: a shop failed the system assessment. Submit a new application."
                )
            )
        elif status == Application.Status.REJECTED:
            step.state = "current"
            step.lines.append(_("Rejected: %(reason)s") % {"reason": application.decision_note})
        if status in Application.OPEN and application.decision_note and step.state == "current":
            step.lines.append(
                _("Note from the auditor: %(note)s") % {"note": application.decision_note}
            )
        return step

    registration = step_for(Stage.REGISTRATION, _("Service-provider registration"))
    if registration.state == "waiting" and identity is not None:
        registration.lines.append(
            {
                IdentityCheck.Status.PENDING: _(
                    "Identity verification of the contact person: in progress."
                ),
                IdentityCheck.Status.VERIFIED: _("Identity of the contact person: verified."),
                IdentityCheck.Status.FAILED: _(
                    "Identity not verified: upload new identity documents."
                ),
            }[IdentityCheck.Status(identity.status)]
        )
    steps.append(registration)

    operator = step_for(Stage.OPERATOR, _("Operator certification"))
    if registration.state == "done" and operator.state == "locked":
        operator.state = "current"
        operator.lines.append(_("Apply with the shop(s) you will operate and their contracts."))
    elif operator.state == "locked":
        operator.lines.append(_("Available once the registration is approved."))
    if (
        operator.state == "current"
        and not operator.action_url_name
        and (
            operator.application is None
            or operator.application.status
            in (Application.Status.UNQUALIFIED, Application.Status.REJECTED)
        )
    ):
        operator.action_url_name, operator.action_label = "partners:apply_operator", _("Apply")
    steps.append(operator)

    international = step_for(Stage.INTERNATIONAL, _("International operator certification"))
    if operator.state == "done" and international.state == "locked":
        international.state = "current"
        international.lines.append(_("Apply with your company's basic information. No deposit."))
    elif international.state == "locked":
        international.lines.append(_("Available once the operator certification is active."))
    if international.state == "current" and (
        international.application is None
        or international.application.status == Application.Status.REJECTED
    ):
        international.action_url_name = "partners:apply_international"
        international.action_label = _("Apply")
    steps.append(international)

    refusals = publish_refusals(provider.pk)
    done = RoadmapStep(
        stage="certified",
        title=_("Certified"),
        state="done" if not refusals else "locked",
        lines=refusals or [_("You may publish services.")],
    )
    steps.append(done)
    return steps


# --- the audit desk -------------------------------------------------------------------------
def audit_queue(
    *, stage: str = "", status: str = "", query: str = "", overdue_only: bool = False
) -> QuerySet[Application]:
    """Applications awaiting staff, overdue first, then by due time."""
    queue = Application.objects.awaiting_staff().select_related("provider")
    if stage:
        queue = queue.filter(stage=stage)
    if status:
        queue = queue.filter(status=status)
    if query:
        queue = queue.filter(
            Q(provider__legal_name__icontains=query)
            | Q(provider__registration_number__icontains=query)
            | Q(shops__nickname__icontains=query)
        ).distinct()
    if overdue_only:
        queue = queue.filter(due_at__lt=timezone.now())
    return queue.order_by(F("due_at").asc(nulls_last=True), "pk")


@dataclass(frozen=True)
class SlaFigures:
    decisions: int
    median_hours: float | None
    within_share: float | None


def sla_figures(*, since: datetime | None = None) -> SlaFigures:
    """Median time from the clock's start to the decision, and the share decided by the
    due time (within the configured working days)."""
    decisions = AuditEvent.objects.filter(
        by_staff=True,
        action__in=["approved", "rejected", "changes_requested", "profile_approved"],
        clock_started_at__isnull=False,
    )
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    rows = list(decisions.values_list("clock_started_at", "due_at", "created_at"))
    if not rows:
        return SlaFigures(0, None, None)
    hours = [(decided - started) / timedelta(hours=1) for started, _due, decided in rows if started]
    within = sum(1 for _started, due, decided in rows if due is not None and decided <= due)
    return SlaFigures(len(rows), round(statistics.median(hours), 1), within / len(rows))


def documents_of(provider: Provider) -> QuerySet[Document]:
    return Document.objects.filter(provider=provider).select_related("application")


def trail_of(provider: Provider) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(provider=provider).select_related("actor", "application")
