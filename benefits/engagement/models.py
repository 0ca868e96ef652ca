"""Engagement: brands and the brand of the week, member events with RSVPs, and sales with early
access per tier."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import text
from core.fields import CategoryListField

# =============================================================================================
# Brands, the brand of the week, member events and early-access sales.
# Services and selectors: benefits/brands.py, benefits/events.py, benefits/sales.py,
# benefits/recommendations.py.
# =============================================================================================


class Brand(models.Model):
    """A brand that sells on the platform: featured as brand of the week, hosts events."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    website = models.URLField(_("website"), blank=True)
    categories = CategoryListField(
        _("categories"),
        max_length=255,
        blank=True,
        help_text=_("Comma-separated, as the shop names them (e.g. shoes, bags)."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering: ClassVar[list[str]] = ["name", "pk"]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def category_list(self) -> list[str]:
        return text.category_list(self.categories)


class FeaturedBrand(models.Model):
    """The brand of the week: one per program-local week (Monday to Sunday)."""

    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, related_name="featured_weeks", verbose_name=_("brand")
    )
    week_start = models.DateField(_("week starting (Monday)"), unique=True)
    headline = models.CharField(_("headline"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("brand of the week")
        verbose_name_plural = _("brands of the week")
        ordering: ClassVar[list[str]] = ["-week_start"]

    def __str__(self) -> str:
        return f"{self.brand} ({self.week_start})"

    def clean(self) -> None:
        super().clean()
        if self.week_start and self.week_start.weekday() != 0:
            raise ValidationError({"week_start": _("A week starts on a Monday.")})

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)


class FeaturedBrandDiscount(models.Model):
    """The extra discount one tier gets on the brand of the week."""

    featured = models.ForeignKey(
        FeaturedBrand, on_delete=models.CASCADE, related_name="discounts", verbose_name=_("week")
    )
    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, related_name="+", verbose_name=_("tier")
    )
    percent = models.DecimalField(
        _("extra discount (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        verbose_name = _("brand-of-the-week discount")
        verbose_name_plural = _("brand-of-the-week discounts")
        constraints = [
            models.UniqueConstraint(fields=["featured", "tier"], name="featured_discount_per_tier"),
            models.CheckConstraint(
                condition=models.Q(percent__gt=0, percent__lte=100),
                name="featured_discount_percent_range",
                violation_error_message=_("A percentage must be more than 0 and at most 100."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier_id}: {self.percent}%"


class MemberEvent(models.Model):
    """A member-only event. `seats_taken` counts confirmed RSVPs; it changes only under this
    row's lock (benefits/events.py) and never exceeds `capacity` (a database rule)."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    online_url = models.URLField(_("online at"), blank=True)
    host_brand = models.ForeignKey(
        Brand,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("host brand"),
    )
    eligible_tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="+",
        verbose_name=_("eligible tiers"),
        help_text=_("Empty: every tier."),
    )
    capacity = models.PositiveIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    rsvp_deadline = models.DateTimeField(_("RSVP deadline"))
    seats_taken = models.PositiveIntegerField(_("seats taken"), default=0, editable=False)
    published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("member event")
        verbose_name_plural = _("member events")
        ordering: ClassVar[list[str]] = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seats_taken__lte=models.F("capacity")),
                name="event_seats_within_capacity",
                violation_error_message=_("More members are confirmed than the capacity."),
            ),
            models.CheckConstraint(
                condition=models.Q(rsvp_deadline__lte=models.F("starts_at")),
                name="event_deadline_before_start",
                violation_error_message=_("The RSVP deadline must not be after the start."),
            ),
            models.CheckConstraint(
                condition=~models.Q(place="") | ~models.Q(online_url=""),
                name="event_place_or_online",
                violation_error_message=_("Give a place or an online address."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.title)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, object] = {}
        if self.rsvp_deadline and self.starts_at and self.rsvp_deadline > self.starts_at:
            errors["rsvp_deadline"] = _("The RSVP deadline must not be after the start.")
        if not self.place and not self.online_url:
            errors["place"] = _("Give a place or an online address.")
        if self.capacity is not None and self.capacity < self.seats_taken:
            errors["capacity"] = _(
                "%(taken)d members are confirmed already; the capacity cannot be lower."
            ) % {"taken": self.seats_taken}
        if errors:
            raise ValidationError(errors)

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)


class EventRsvp(models.Model):
    """A member's answer to an event invitation: one row per member per event (a database
    rule). The waiting list is the waiting rows in `answered_at`, `pk` order."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITING = "waiting", _("On the waiting list")
        CANCELLED = "cancelled", _("Cancelled")

    event = models.ForeignKey(
        MemberEvent, on_delete=models.CASCADE, related_name="rsvps", verbose_name=_("event")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="event_rsvps",
        verbose_name=_("member"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    answered_at = models.DateTimeField(_("answered at"))
    promoted_at = models.DateTimeField(_("moved up from the waiting list"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("told of the seat at"), null=True, blank=True)

    class Meta:
        verbose_name = _("RSVP")
        verbose_name_plural = _("RSVPs")
        indexes = [
            models.Index(fields=["event", "status", "answered_at", "id"], name="rsvp_queue"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="rsvp_once_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.event_id}: {self.status}"


class Sale(models.Model):
    """A sale with a public start; tiers listed in its early access see it open sooner."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    brand = models.ForeignKey(
        Brand,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales",
        verbose_name=_("brand"),
    )
    public_start_at = models.DateTimeField(_("public start"))
    ends_at = models.DateTimeField(_("ends at"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering: ClassVar[list[str]] = ["public_start_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("public_start_at")),
                name="sale_ends_after_start",
                violation_error_message=_("A sale must end after it starts."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.title)

    def clean(self) -> None:
        super().clean()
        if self.public_start_at and self.ends_at and self.ends_at <= self.public_start_at:
            raise ValidationError({"ends_at": _("A sale must end after it starts.")})


class SaleEarlyAccess(models.Model):
    """How many hours before the public start a tier may shop a sale."""

    sale = models.ForeignKey(
        Sale, on_delete=models.CASCADE, related_name="early_access", verbose_name=_("sale")
    )
    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, related_name="+", verbose_name=_("tier")
    )
    hours = models.PositiveSmallIntegerField(
        _("hours before the public start"),
        validators=[MinValueValidator(1), MaxValueValidator(720)],
    )

    class Meta:
        verbose_name = _("early access")
        verbose_name_plural = _("early access")
        constraints = [
            models.UniqueConstraint(fields=["sale", "tier"], name="sale_early_access_per_tier"),
            models.CheckConstraint(
                condition=models.Q(hours__gte=1, hours__lte=720), name="sale_early_hours_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier_id}: {self.hours} h"
