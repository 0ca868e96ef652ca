"""Service providers (partner companies), their people, their staged certification, the
documents they upload, the deposit ledger and the audit trail.

Stages, in roadmap order: registration -> operator -> international. Each stage is applied
for with an `Application`; an approved stage becomes a `Certification`. A change to a
certified provider's registered details is an application too (stage `details_change`), so
the audit desk, its SLA and the trail treat it like any other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import text

from .storage import document_storage

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class NormalisedCopyField(models.CharField):  # type: ignore[type-arg]
    """A copy of another text field in the form the program compares (NFKC, case-folded,
    whitespace collapsed), written on every save: lookups match "ＢＬＵＥ  Shop" to "blue shop"."""

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = text.normalize(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, value)
        return value


class PartnerProgram(models.Model):
    """The partner program's tunables (one row, edited in the admin). Code holds only these
    defaults."""

    deposit_amount = models.DecimalField(
        _("operator deposit"), default=Decimal("100000.00"), **MONEY
    )
    deposit_currency = models.CharField(_("deposit currency"), max_length=3, default="CNY")
    audit_working_days = models.PositiveSmallIntegerField(_("working days for an audit"), default=3)
    min_trading_days = models.PositiveIntegerField(
        _("a shop has traded for at least (days)"), default=90
    )
    check_shop_active = models.BooleanField(_("rule: the shop is active"), default=True)
    check_shop_not_operated = models.BooleanField(
        _("rule: no other certified operator runs the shop"), default=True
    )
    check_no_open_violations = models.BooleanField(
        _("rule: the shop has no open violation"), default=True
    )
    max_document_mb = models.PositiveSmallIntegerField(_("largest document (MB)"), default=10)
    invitation_days = models.PositiveSmallIntegerField(
        _("an invitation is valid for (days)"), default=7
    )

    class Meta:
        verbose_name = _("partner program")
        verbose_name_plural = _("partner program")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="partnerprogram_one_row"),
            models.CheckConstraint(
                condition=Q(deposit_amount__gte=0), name="partnerprogram_deposit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Partner program"))

    @classmethod
    def load(cls) -> PartnerProgram:
        obj, _created = cls.objects.get_or_create(id=1)
        return obj


class CalendarDay(models.Model):
    """An exception to the Monday-to-Friday working week, in the program's time zone: a
    holiday on a weekday, or a make-up working day on a weekend."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKING = "working", _("Working day")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.HOLIDAY)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()}"


class Shop(models.Model):
    """A shop a partner may operate: staff-managed data that the system assessment reads
    (the platform has no shop registry of its own yet)."""

    nickname = models.CharField(_("nickname"), max_length=100, unique=True)
    # the nickname in the form the program compares (core.text.normalize), kept on every save
    nickname_key = NormalisedCopyField(source="nickname", max_length=100, unique=True)
    owner_company = models.CharField(_("owner company"), max_length=200)
    owner_registration_number = models.CharField(
        _("owner registration number"), max_length=60, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    opened_on = models.DateField(_("opened on"))
    open_violations = models.PositiveIntegerField(_("open violations"), default=0)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["nickname"]

    def __str__(self) -> str:
        return self.nickname


class Provider(models.Model):
    """A service-provider company. Its registered details (legal name, registration number,
    payment account) change only through an audited change request."""

    class Standing(models.TextChoices):
        GOOD = "good", _("In good standing")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")

    class PaymentKind(models.TextChoices):
        CORPORATE = "corporate", _("Corporate account")
        PERSONAL = "personal", _("Personal account")

    legal_name = models.CharField(_("legal name"), max_length=200)
    registration_number = models.CharField(_("registration number"), max_length=60)
    country = models.CharField(_("country"), max_length=2)
    address = models.TextField(_("address"), max_length=500)
    contact_name = models.CharField(_("contact person"), max_length=150)
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=40)
    payment_account_name = models.CharField(_("payment account name"), max_length=200)
    payment_account_number = models.CharField(_("payment account number"), max_length=60)
    payment_provider = models.CharField(_("bank or payment provider"), max_length=120)
    payment_account_kind = models.CharField(
        _("payment account kind"),
        max_length=10,
        choices=PaymentKind.choices,
        default=PaymentKind.CORPORATE,
    )
    standing = models.CharField(
        _("standing"), max_length=10, choices=Standing.choices, default=Standing.GOOD
    )
    standing_reason = models.TextField(_("reason"), blank=True)
    suspended_until = models.DateTimeField(_("suspended until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    update_deadline = models.DateTimeField(_("update information by"), null=True, blank=True)
    update_note = models.TextField(_("what to update"), blank=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service provider")
        verbose_name_plural = _("service providers")
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "registration_number"],
                name="provider_registration_number_unique_per_country",
            ),
            models.CheckConstraint(
                condition=Q(payment_account_kind="corporate"),
                name="provider_payment_account_corporate",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class ProviderMember(models.Model):
    """A person who works in the partner portal for one company."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="people")
    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_membership"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner person")
        verbose_name_plural = _("partner people")

    def __str__(self) -> str:
        return f"{self.member} ({self.get_role_display()})"


class Invitation(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=10, choices=ProviderMember.Role.choices)
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.email


class Stage(models.TextChoices):
    REGISTRATION = "registration", _("Service-provider registration")
    OPERATOR = "operator", _("Operator certification")
    INTERNATIONAL = "international", _("International operator certification")
    DETAILS_CHANGE = "details_change", _("Change of registered details")


class ApplicationQuerySet(models.QuerySet["Application"]):
    def open(self) -> ApplicationQuerySet:
        return self.filter(status__in=Application.OPEN)

    def awaiting_staff(self) -> ApplicationQuerySet:
        return self.filter(status__in=Application.AWAITING_STAFF)


class Application(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Awaiting audit")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        AWAITING_PRESENTATION = "awaiting_presentation", _("Awaiting the company presentation")
        PRESENTATION_REVIEW = "presentation_review", _("Presentation awaiting audit")
        UNQUALIFIED = "unqualified", _("Unqualified store application")
        REJECTED = "rejected", _("Rejected")
        APPROVED = "approved", _("Approved")

    OPEN: ClassVar[tuple[str, ...]] = (
        "submitted",
        "changes_requested",
        "awaiting_presentation",
        "presentation_review",
    )
    AWAITING_STAFF: ClassVar[tuple[str, ...]] = ("submitted", "presentation_review")

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="applications")
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    status = models.CharField(_("status"), max_length=25, choices=Status.choices)
    version = models.PositiveIntegerField(default=1)
    details = models.JSONField(_("details"), default=dict, blank=True)
    assessment = models.JSONField(_("system assessment"), default=list, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    due_at = models.DateTimeField(_("audit due by"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(_("note from the auditor"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at"]
        permissions = [("audit_application", "Can audit partner applications")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "stage"],
                condition=Q(
                    status__in=[
                        "submitted",
                        "changes_requested",
                        "awaiting_presentation",
                        "presentation_review",
                    ]
                ),
                name="application_one_open_per_provider_and_stage",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="application_queue_idx")]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class ApplicationShop(models.Model):
    """A shop an operator application asks to operate, with its contract."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="shops")
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.PROTECT)
    nickname = models.CharField(_("shop nickname"), max_length=100)
    contract_nickname = models.CharField(_("nickname in the contract"), max_length=100)
    contract = models.ForeignKey("Document", on_delete=models.PROTECT, related_name="+")
    failures = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("shop in an application")
        verbose_name_plural = _("shops in applications")

    def __str__(self) -> str:
        return self.nickname


class Certification(models.Model):
    class Status(models.TextChoices):
        DEPOSIT_DUE = "deposit_due", _("Deposit due")
        ACTIVE = "active", _("Active")

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="certifications")
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    status = models.CharField(_("status"), max_length=15, choices=Status.choices)
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("active since"), null=True, blank=True)

    class Meta:
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "stage"], name="certification_once_per_stage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.get_stage_display()}"


class ShopOperation(models.Model):
    """A certified operator runs a shop (from its operator certification's activation)."""

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="operations")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="operations")
    since = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("shop operation")
        verbose_name_plural = _("shop operations")
        constraints = [
            models.UniqueConstraint(
                fields=["shop"], condition=Q(ended_at=None), name="shop_one_current_operator"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop} / {self.provider}"


class IdentityCheck(models.Model):
    """The contact person's identity verification; decided by a verifier
    (partners.verification: staff by default)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting verification")
        VERIFIED = "verified", _("Verified")
        FAILED = "failed", _("Not verified")

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="identity_checks")
    person_name = models.CharField(_("person"), max_length=150)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    verifier = models.CharField(_("verifier"), max_length=60)
    note = models.TextField(_("note"), blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identity check")
        verbose_name_plural = _("identity checks")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.person_name


class Document(models.Model):
    """An uploaded document: private storage, never a public URL (served by a checked view)."""

    class Kind(models.TextChoices):
        BUSINESS_LICENCE = "business_licence", _("Business licence")
        CONTRACT = "contract", _("Operating contract")
        IDENTITY = "identity", _("Identity document")
        IDENTITY_SECOND = "identity_second", _("Selfie or second identity document")
        PRESENTATION = "presentation", _("Company presentation")

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="documents")
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    file = models.FileField(storage=document_storage, upload_to="partners/%Y/%m/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=60)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


class DepositEntry(models.Model):
    """One movement of the operator deposit. Append-only (a trigger refuses UPDATE and
    DELETE); a trigger also refuses an entry that would make the money held negative or mix
    currencies. Held = received - deducted - refunded; due = required - held."""

    class Kind(models.TextChoices):
        REQUIRED = "required", _("Required")
        RECEIVED = "received", _("Received")
        DEDUCTED = "deducted", _("Deducted")
        REFUNDED = "refunded", _("Refunded")

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="deposit_entries")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deposit entry")
        verbose_name_plural = _("deposit entries")
        ordering = ["created_at", "id"]
        permissions = [("record_deposit", "Can record partner deposit movements")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="depositentry_amount_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="depositentry_currency_iso"
            ),
            models.CheckConstraint(
                condition=~Q(kind="received") | ~Q(reference=""),
                name="depositentry_received_has_reference",
            ),
            models.CheckConstraint(
                condition=~Q(kind="deducted") | ~Q(reason=""),
                name="depositentry_deducted_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    @property
    def signed_held(self) -> Decimal:
        """This entry's effect on the money held."""
        if self.kind == self.Kind.RECEIVED:
            return self.amount
        if self.kind in (self.Kind.DEDUCTED, self.Kind.REFUNDED):
            return -self.amount
        return Decimal("0")


class AuditEvent(models.Model):
    """The append-only trail: every state change, by whom, when and why; shown on both
    sides. A trigger refuses UPDATE and DELETE."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="trail")
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="trail"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_staff = models.BooleanField(default=False)
    action = models.CharField(_("action"), max_length=40)
    from_status = models.CharField(_("from"), max_length=25, blank=True)
    to_status = models.CharField(_("to"), max_length=25, blank=True)
    note = models.TextField(_("note"), blank=True)
    clock_started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.created_at:%Y-%m-%d %H:%M}"

    def describe(self) -> Any:
        from .labels import action_label

        return action_label(self.action)
