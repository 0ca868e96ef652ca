"""What the shop reports and the engine records: events (one per integration key), orders, category
contributions and visits."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import CategoriesField
from loyalty.program.models import MoneyField


class Event(models.Model):
    """An event received from an integration, once per (API key, event id).

    The unique constraint is the idempotency: a replay finds this row, compares the body hash
    and answers the stored `response`.
    """

    api_key = models.ForeignKey(  # indexed by the unique constraint, which leads with it
        "members.ApiKey",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("API key"),
    )
    key = models.CharField(_("event id"), max_length=100)
    type = models.CharField(_("type"), max_length=30)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("member"),
    )
    body_hash = models.CharField(_("body hash"), max_length=64)
    response = models.JSONField(_("answer"), default=dict)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="event_key_per_api_key"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key}"


class Order(models.Model):
    """An order the shop reported as received; returns and fraud reverse its points."""

    number = models.CharField(_("order number"), max_length=64, unique=True)
    member = models.ForeignKey(  # indexed by order_member_day, which leads with it
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="loyalty_orders",
        db_index=False,
        verbose_name=_("member"),
    )
    amount = MoneyField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    categories = CategoriesField(_("categories"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"))
    returned_amount = MoneyField(_("returned amount"), default=Decimal("0"))
    fraud = models.BooleanField(_("flagged as fraud"), default=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["member", "received_at"], name="order_member_day")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(returned_amount__lte=models.F("amount"), returned_amount__gte=0),
                name="order_returned_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return str(self.number)


class Contribution(models.Model):
    """A review or club post the shop reported: rewarded once per review or post id, however
    many event ids it arrives under (the unique constraint decides)."""

    class Kind(models.TextChoices):
        REVIEW = "review", _("product review")
        CLUB_POST = "club_post", _("club post")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    ref = models.CharField(_("review or post id"), max_length=100)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="loyalty_contributions",
        verbose_name=_("member"),
    )
    posted_at = models.DateTimeField(_("posted at"))

    class Meta:
        verbose_name = _("review or club post")
        verbose_name_plural = _("reviews and club posts")
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref"], name="contribution_once_per_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"


class Visit(models.Model):
    """A member's first member-center visit on a program-local day (at most one a day)."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="visit_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"visit of {self.member_id} on {self.day}"
