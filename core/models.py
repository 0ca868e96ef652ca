"""The transactional outbox: what happened in a domain, written in the same transaction as the
change itself, and handed to every subscriber of its type, once each (core.outbox).

A row is designed to be what outbound webhooks send, too: a stable event id (a UUID, the same
on every retry), the type and its payload version, when it happened, the subject's ids, and
a per-member sequence so a member's events can be delivered in order."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """Something that happened that other parts of the program care about (a tier changed, a
    coupon was issued...). Append-only."""

    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    # not indexed: a job records thousands of events at once, and nothing reads by type alone
    type = models.CharField(_("type"), max_length=60)
    version = models.PositiveSmallIntegerField(_("payload version"), default=1)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    # the subject: core sits below every domain, so these are ids, not foreign keys
    member_id = models.BigIntegerField(_("member id"), null=True, blank=True)
    member_seq = models.BigIntegerField(_("member sequence"), null=True, blank=True)
    subject = models.JSONField(_("subject ids"), default=dict, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # Set by the dispatcher as it writes the event's deliveries (at once for a type nobody
    # subscribes to); the events still to hand out are a small partial index.
    fanned_out_at = models.DateTimeField(_("handed to subscribers at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["member_id", "member_seq"], name="outbox_member_sequence_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_event_to_fan_out",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class OutboxSequence(models.Model):
    """The last sequence number given to a member's events (one row per member, locked by the
    transaction that takes the next number, so numbers follow commit order per member)."""

    member_id = models.BigIntegerField(primary_key=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.last}"


class OutboxDelivery(models.Model):
    """One event for one subscriber: pending until the subscriber has handled it (its effects
    and this row's "done" commit together), retried with backoff when it fails."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        FAILED = "failed", _("failed (retries used up)")

    event = models.ForeignKey(  # indexed by outbox_delivery_once, which leads with it
        OutboxEvent,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("event"),
        db_index=False,
    )
    subscriber = models.CharField(_("subscriber"), max_length=200)
    # The event's member and sequence, copied: "an earlier delivery of this member to this
    # subscriber is not done yet" is then one probe of outbox_delivery_member_order.
    member_id = models.BigIntegerField(_("member id"), null=True, blank=True)
    member_seq = models.BigIntegerField(_("member sequence"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox delivery")
        verbose_name_plural = _("outbox deliveries")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="outbox_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["subscriber", "next_attempt_at", "id"],
                name="outbox_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["subscriber", "member_id", "member_seq"],
                name="outbox_delivery_member_order",
                condition=~models.Q(status="done"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} <- {self.event_id}"
