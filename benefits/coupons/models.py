"""Coupons: templates, issued coupons, redemptions, the daily quota and staff issuing jobs."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.program.models import MoneyField

# 31 symbols: no 0/O, 1/I/L look-alikes. 16 symbols = 16 * log2(31) ≈ 79 bits of randomness.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
CODE_GROUP = 4
_NOT_IN_ALPHABET = re.compile(f"[^{CODE_ALPHABET}]")


def new_coupon_code() -> str:
    """A fresh code, e.g. `K7QM-2XHD-9PRT-4WZA`, drawn from `secrets`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalize_code(value: str) -> str:
    """What a shopper typed, in the stored form: upper case, separators dropped, grouped."""
    raw = _NOT_IN_ALPHABET.sub("", value.upper())
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))


class Occasion(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    ANNIVERSARY = "anniversary", _("Membership anniversary")
    LEVEL_UP = "level_up", _("Level-up reward")
    DAILY_QUOTA = "daily_quota", _("Limited daily coupon")
    MANUAL = "manual", _("Issued by staff")
    POINTS_EXCHANGE = "points_exchange", _("Exchanged for points")


class CouponTemplateQuerySet(models.QuerySet["CouponTemplate"]):
    def active(self) -> CouponTemplateQuerySet:
        return self.filter(active=True)

    def for_occasion(self, occasion: str) -> CouponTemplateQuerySet:
        return self.active().filter(occasion=occasion).order_by("pk")


class CouponTemplate(models.Model):
    """What a coupon is worth, to whom, for how long, and on which occasion it is issued."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")

    code = models.SlugField(
        _("code"), max_length=50, unique=True, help_text=_("A stable internal name.")
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(
        _("how to use"), blank=True, help_text=_("Shown in the wallet and the email.")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("The amount off, or the percentage off. 0 for free shipping."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    min_order = MoneyField(
        _("minimum order"), default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    valid_days = models.PositiveSmallIntegerField(
        _("valid for (days after issue)"), null=True, blank=True
    )
    valid_from = models.DateTimeField(_("fixed window from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("fixed window until"), null=True, blank=True)
    eligible_tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="coupon_templates",
        verbose_name=_("eligible tiers"),
        help_text=_("Empty: every tier."),
    )
    occasion = models.CharField(_("occasion"), max_length=20, choices=Occasion.choices)
    per_member_limit = models.PositiveSmallIntegerField(
        _("per-member limit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("For staff issues: members already holding this many are skipped."),
    )
    total_quantity = models.PositiveIntegerField(
        _("total quantity"),
        null=True,
        blank=True,
        help_text=_("Empty: unlimited. Applies to level-up, daily and staff issues."),
    )
    issued_count = models.PositiveIntegerField(_("issued so far"), default=0, editable=False)
    daily_quota = models.PositiveIntegerField(
        _("daily quota"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Limited daily coupons: how many members may claim one per day."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects: ClassVar[models.Manager[CouponTemplate]] = CouponTemplateQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering: ClassVar[list[str]] = ["occasion", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(valid_days__isnull=False, valid_from__isnull=True)
                    | models.Q(
                        valid_days__isnull=True,
                        valid_from__isnull=False,
                        valid_until__gt=models.F("valid_from"),
                    )
                ),
                name="template_validity_days_or_window",
                violation_error_message=_("Give a number of days, or a fixed window."),
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="percent_off") | models.Q(value__lte=100, value__gt=0),
                name="template_percent_range",
                violation_error_message=_("A percentage must be more than 0 and at most 100."),
            ),
            models.CheckConstraint(
                condition=~models.Q(occasion="daily_quota") | models.Q(daily_quota__isnull=False),
                name="template_daily_needs_quota",
                violation_error_message=_("A limited daily coupon needs a daily quota."),
            ),
            models.CheckConstraint(
                condition=models.Q(total_quantity__isnull=True)
                | models.Q(issued_count__lte=models.F("total_quantity")),
                name="template_total_quantity",
                violation_error_message=_("More were issued than the total quantity."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, object] = {}
        if self.valid_days is None and (self.valid_from is None or self.valid_until is None):
            errors["valid_days"] = _("Give a number of days, or a fixed window (from and until).")
        if self.valid_days is not None and (self.valid_from or self.valid_until):
            errors["valid_from"] = _("Give either a number of days or a fixed window, not both.")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The window must end after it starts.")
        if self.valid_days == 0:
            errors["valid_days"] = _("A coupon must be valid for at least one day.")
        if self.kind == self.Kind.PERCENT_OFF and not (Decimal("0") < self.value <= 100):
            errors["value"] = _("A percentage must be more than 0 and at most 100.")
        if self.kind == self.Kind.AMOUNT_OFF and self.value <= 0:
            errors["value"] = _("An amount off must be more than 0.")
        if self.kind == self.Kind.FREE_SHIPPING and self.value != 0:
            errors["value"] = _("Free shipping has no value; leave it at 0.")
        if self.occasion == Occasion.DAILY_QUOTA and not self.daily_quota:
            errors["daily_quota"] = _("A limited daily coupon needs a daily quota.")
        if self.currency and not re.fullmatch(r"[A-Z]{3}", self.currency):
            errors["currency"] = _("Use a three-letter ISO code such as USD.")
        if errors:
            raise ValidationError(errors)

    def validity(self, issued_at: datetime) -> tuple[datetime, datetime]:
        """[valid_from, valid_until) of a coupon issued at `issued_at`."""
        if self.valid_days is not None:
            return issued_at, issued_at + timedelta(days=self.valid_days)
        assert self.valid_from is not None and self.valid_until is not None
        return self.valid_from, self.valid_until

    def discount_for(self, order_amount: Decimal) -> Decimal:
        """The discount on an order of `order_amount` (never more than the order)."""
        if self.kind == self.Kind.AMOUNT_OFF:
            return min(self.value, order_amount)
        if self.kind == self.Kind.PERCENT_OFF:
            return (order_amount * self.value / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return Decimal("0.00")


class CouponQuerySet(models.QuerySet["Coupon"]):
    def available(self, now: datetime | None = None) -> CouponQuerySet:
        now = now or timezone.now()
        return self.filter(status=Coupon.Status.AVAILABLE, valid_until__gt=now)

    def used(self) -> CouponQuerySet:
        return self.filter(status=Coupon.Status.REDEEMED)

    def expired(self, now: datetime | None = None) -> CouponQuerySet:
        now = now or timezone.now()
        return self.filter(
            models.Q(status__in=[Coupon.Status.EXPIRED, Coupon.Status.VOID])
            | models.Q(status=Coupon.Status.AVAILABLE, valid_until__lte=now)
        )

    def expiring_within(self, days: int, now: datetime | None = None) -> CouponQuerySet:
        now = now or timezone.now()
        return self.available(now).filter(valid_until__lte=now + timedelta(days=days))

    def past_due(self, now: datetime) -> CouponQuerySet:
        return self.filter(status=Coupon.Status.AVAILABLE, valid_until__lte=now)


class Coupon(models.Model):
    """An issued coupon. `period` and `tier` make "once per occasion" a database rule:

    birthday / anniversary: one per member per occasion per year (`period` = 1 January);
    level-up: one per member per tier per period; daily quota: one per member per template per
    day; staff issue: one per member per template and issuing round (`job_round`).
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        REDEEMED = "redeemed", _("Used")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    code = models.CharField(_("code"), max_length=24, unique=True, default=new_coupon_code)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="coupons",
        verbose_name=_("member"),
    )
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("template")
    )
    occasion = models.CharField(_("occasion"), max_length=20, choices=Occasion.choices)
    period = models.DateField(_("period"), null=True, blank=True)
    tier = models.ForeignKey(
        "loyalty.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tier"),
    )
    job = models.ForeignKey(
        "CouponIssueJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
        verbose_name=_("issuing job"),
    )
    # A staff job's round of its template (CouponIssueJob.round): one coupon per member per
    # template and round, so a re-created or redelivered job never issues a member twice.
    job_round = models.PositiveIntegerField(_("issuing round"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    reason = models.CharField(_("why it was issued"), max_length=255)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    redeemed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    order_number = models.CharField(_("order"), max_length=64, blank=True)
    # When the row was written (`issued_at` may be the program-local start of its day); the
    # coupon-notice sweep looks at it. NULL for coupons written before it existed.
    created_at = models.DateTimeField(
        _("created"), null=True, blank=True, default=timezone.now, db_index=True
    )

    objects: ClassVar[models.Manager[Coupon]] = CouponQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        indexes = [
            models.Index(fields=["member", "status", "valid_until"], name="coupon_wallet"),
            models.Index(
                fields=["valid_until"],
                name="coupon_available_until",
                condition=models.Q(status="available"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "occasion", "period"],
                condition=models.Q(occasion__in=["birthday", "anniversary"]),
                name="coupon_once_per_occasion_year",
            ),
            models.UniqueConstraint(
                fields=["member", "tier", "period"],
                condition=models.Q(occasion="level_up"),
                name="coupon_levelup_once_per_tier_period",
            ),
            models.UniqueConstraint(
                fields=["member", "template", "period"],
                condition=models.Q(occasion="daily_quota"),
                name="coupon_daily_once_per_day",
            ),
            models.UniqueConstraint(
                fields=["template", "job_round", "member"],
                condition=models.Q(job_round__isnull=False),
                name="coupon_once_per_template_round",
            ),
            models.CheckConstraint(
                condition=models.Q(job__isnull=True, job_round__isnull=True)
                | models.Q(job__isnull=False, job_round__isnull=False),
                name="coupon_job_has_round",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="coupon_valid_window",
            ),
        ]

    def __str__(self) -> str:
        return str(self.code)


class CouponRedemption(models.Model):
    """One use of a coupon at checkout, keyed by the caller's request id (idempotency).

    At most one unreleased redemption per coupon is a database rule.
    """

    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("coupon")
    )
    api_key = models.ForeignKey(
        "members.ApiKey", on_delete=models.PROTECT, related_name="+", verbose_name=_("API key")
    )
    request_id = models.CharField(_("request id"), max_length=64)
    order_number = models.CharField(_("order"), max_length=64)
    order_amount = MoneyField(_("order amount"))
    discount = MoneyField(_("discount"))
    redeemed_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    release_id = models.CharField(_("release request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "request_id"], name="redemption_request_once"
            ),
            models.UniqueConstraint(
                fields=["coupon"],
                condition=models.Q(released_at__isnull=True),
                name="redemption_one_active_per_coupon",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} → {self.coupon_id}"


class DailyQuotaCounter(models.Model):
    """How many coupons of a daily-quota template were claimed on a program-local day.

    Claims increment it with a guarded UPDATE (claimed < quota), so the quota is exact.
    """

    template = models.ForeignKey(
        CouponTemplate, on_delete=models.CASCADE, related_name="+", verbose_name=_("template")
    )
    day = models.DateField(_("day"))
    claimed = models.PositiveIntegerField(_("claimed"), default=0)

    class Meta:
        verbose_name = _("daily quota counter")
        verbose_name_plural = _("daily quota counters")
        constraints = [
            models.UniqueConstraint(fields=["template", "day"], name="daily_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} {self.day}: {self.claimed}"


class CouponIssueJob(models.Model):
    """Staff issue a template to a filtered set of members; a Celery task does the work.

    Every job joins its template's ordinary round (0) unless staff ask to issue again, which
    gives it a round of its own: a member gets at most one coupon per template and round (a
    unique constraint), so a re-created or redelivered job issues nobody twice. The task works
    in batches under the job's row lock from `last_member_id`, committing each batch's coupons
    with the position and counters: it is safe to run twice and resumes where it stopped.
    `processed` counts members handled, `issued` the coupons this job inserted.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("template")
    )
    reason = models.CharField(_("why it is issued"), max_length=255)
    tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="+",
        verbose_name=_("only tiers"),
        help_text=_("Empty: every tier."),
    )
    joined_from = models.DateField(_("joined on or after"), null=True, blank=True)
    joined_until = models.DateField(_("joined on or before"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    member_numbers = models.TextField(
        _("only these member numbers"), blank=True, help_text=_("One per line; empty: all.")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total = models.PositiveIntegerField(_("members to process"), default=0)
    processed = models.PositiveIntegerField(_("members processed"), default=0)
    issued = models.PositiveIntegerField(_("coupons issued"), default=0)
    issue_again = models.BooleanField(
        _("issue again to members who already got this template from a job"),
        default=False,
        help_text=_(
            "Unticked: members who already got this template from an earlier job are skipped."
        ),
    )
    round = models.PositiveIntegerField(_("issuing round"), default=0, editable=False)
    last_member_id = models.BigIntegerField(_("last member handled"), default=0, editable=False)
    progressed_at = models.DateTimeField(_("last progress"), null=True, blank=True, editable=False)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon issuing job")
        verbose_name_plural = _("coupon issuing jobs")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.template} ({self.get_status_display()})"

    def clean(self) -> None:
        """A staff job cannot issue from a template whose fixed window is over."""
        template = self.template if self.template_id else None
        if (
            template is not None
            and template.valid_days is None
            and template.valid_until
            and template.valid_until <= timezone.now()
        ):
            raise ValidationError(
                {
                    "template": _(
                        "This template's validity window is over: its coupons would be"
                        " born expired."
                    )
                }
            )

    @property
    def progress_percent(self) -> int:
        if not self.total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, self.processed * 100 // self.total)

    @property
    def skipped(self) -> int:
        """Members handled who already held a coupon of this template and round."""
        return self.processed - self.issued

    def numbers(self) -> list[str]:
        return [line.strip() for line in self.member_numbers.split() if line.strip()]
