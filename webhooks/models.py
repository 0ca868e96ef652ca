"""Outbound webhooks: where an integration or a partner company wants to be told (an
endpoint), what it is to be told (a message: one outbox event for one endpoint) and every try
(an attempt).

The signing secrets are stored encrypted (webhooks.signing): a database read alone does not
reveal them."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import OutboxEvent
from members.models import ApiKey
from partners.models import Provider

# The member program's event types, for an integration's endpoint (docs/architecture.md,
# "Domain events").
EVENT_TYPES = [
    "member.created",
    "member.updated",
    "points.earned",
    "points.reversed",
    "points.expiring",
    "tier.changed",
    "coupon.issued",
    "coupon.redeemed",
    "coupon.released",
    "coupon.expired",
    "coupon.voided",
]

# The partner program's event types, for a partner's endpoint: only those whose subject is
# its own company (subject "provider").
PARTNER_EVENT_TYPES = [
    "partner.application.changed",
    "partner.certification.changed",
    "partner.standing.changed",
]


def event_types_for(*, partner: bool) -> list[str]:
    """The types an endpoint of this kind of owner may subscribe to."""
    return PARTNER_EVENT_TYPES if partner else EVENT_TYPES


class WebhookEndpoint(models.Model):
    """A URL that an integration (its API key) or a partner company registered to receive
    events, signed with its secret. Exactly one owner: an API key gets the member program's
    events, a company its own partner events."""

    owner = models.ForeignKey(
        ApiKey,
        verbose_name=_("owner (API key)"),
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        null=True,
        blank=True,
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("owner (partner company)"),
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        null=True,
        blank=True,
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Empty: every type.
    event_types = ArrayField(
        models.CharField(max_length=60),
        verbose_name=_("event types"),
        default=list,
        blank=True,
        help_text=_("Empty: every event type."),
    )
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Fernet tokens (webhooks.signing), never the secret itself.
    secret_encrypted = models.TextField(_("secret (encrypted)"), editable=False)
    previous_secret_encrypted = models.TextField(
        _("previous secret (encrypted)"), blank=True, editable=False
    )
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ("-id",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner__isnull=False, provider__isnull=True)
                | models.Q(owner__isnull=True, provider__isnull=False),
                name="webhook_endpoint_one_owner",
                violation_error_message=_(
                    "An endpoint has exactly one owner: an API key or a partner company."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_partners(self) -> bool:
        return self.provider_id is not None

    def allowed_event_types(self) -> list[str]:
        return event_types_for(partner=self.is_partners)

    def wants(self, event_type: str) -> bool:
        if event_type not in self.allowed_event_types():
            return False
        return not self.event_types or event_type in self.event_types


class WebhookMessage(models.Model):
    """One event for one endpoint: pending until a 2xx answer, retried on a schedule."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (retries used up)")

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # webhook_message_once leads with it
    )
    event = models.ForeignKey(
        OutboxEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+"
    )
    # The event's member and sequence, copied: "an earlier message of this member to this
    # endpoint is still pending" is one probe of webhook_message_member_order.
    member_id = models.BigIntegerField(_("member id"), null=True, blank=True)
    member_seq = models.BigIntegerField(_("member sequence"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_message_once"),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="webhook_message_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "member_id", "member_seq"],
                name="webhook_message_member_order",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One try at sending a message: what the receiver answered, or why it was not sent."""

    RESPONSE_KEPT = 1000  # characters of the response body kept

    message = models.ForeignKey(
        WebhookMessage,
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        related_name="attempts_made",
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response = models.TextField(_("response (first 1,000 characters)"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.message_id} @ {self.at:%Y-%m-%d %H:%M:%S}"
