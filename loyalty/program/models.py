"""The program's settings, its tier ladder, earning rules and campaigns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import text
from core.cache import Scope, cached
from core.fields import CategoryListField

MONEY_DIGITS = 12
MONEY_PLACES = 2


class MoneyField(models.DecimalField):  # type: ignore[type-arg]
    """A money amount at the project-wide precision (the currency is stored beside it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MONEY_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        super().__init__(*args, **kwargs)


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Program(models.Model):
    """The program's tunables: one row, edited in the admin. Defaults live here, in one place."""

    class ExpiryPolicy(models.TextChoices):
        NEVER = "never", _("Never")
        MONTHS = "months", _("After a number of months")
        YEAR_END = "year_end", _("At the end of the year after earning")

    name = models.CharField(_("name"), max_length=100, default="Member Center")
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=settings.PROGRAM_TIME_ZONE_DEFAULT,
        validators=[validate_time_zone],
        help_text=_("'Today' and month ends are counted in this time zone."),
    )
    qualifying_window_months = models.PositiveSmallIntegerField(
        _("qualifying window (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
    )
    tier_effective_day = models.PositiveSmallIntegerField(
        _("day the new tier takes effect"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of the month after the evaluation; empty: at once."),
    )
    instant_upgrade = models.BooleanField(
        _("instant upgrade between evaluations"),
        default=False,
    )
    expiry_policy = models.CharField(
        _("points expiry"),
        max_length=10,
        choices=ExpiryPolicy.choices,
        default=ExpiryPolicy.MONTHS,
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"), default=12, validators=[MinValueValidator(1)]
    )
    backdating_days = models.PositiveSmallIntegerField(
        _("back-dating limit (days)"),
        default=90,
        help_text=_("Events older than this are refused."),
    )

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="program_singleton"),
        ]

    def __str__(self) -> str:
        return str(self.name)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1  # the one row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> Program:
        """The settings, cached under their own version (core.cache: the Program row's
        changes move it, by any path); memoised in this process: do not change the instance
        without saving it."""
        return cached(
            PROGRAM_CACHE_KEY,
            lambda: cls.objects.get_or_create(pk=1)[0],
            scope=Scope.PROGRAM_SETTINGS,
            seconds=PROGRAM_CACHE_SECONDS,
            memo=True,
        )


PROGRAM_CACHE_KEY = "loyalty:program:v2"
PROGRAM_CACHE_SECONDS = 60


class TierQuerySet(models.QuerySet["Tier"]):
    def ladder(self) -> TierQuerySet:
        return self.order_by("rank")


class Tier(models.Model):
    """A rung of the ladder. A member qualifies with at least `min_points` qualifying points."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=60)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    min_points = models.PositiveIntegerField(_("minimum qualifying points"), unique=True)
    discount_percent = models.DecimalField(
        _("level discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    fast_refund_limit = MoneyField(_("fast-refund limit"), null=True, blank=True)
    badge_colour = models.CharField(_("badge colour"), max_length=7, default="#6b7280")
    description = models.TextField(_("description"), blank=True)

    objects: ClassVar[models.Manager[Tier]] = TierQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering: ClassVar[list[str]] = ["rank"]

    def __str__(self) -> str:
        return str(self.name)


class EarningRule(models.Model):
    """How many points one kind of member action earns, and its cap. Edited in the admin.

    Rules that share a `cap_group` share one cap (DOMAIN.md: reviews and daily visits share 10
    a month); they must then agree on the cap and its period.
    """

    class Kind(models.TextChoices):
        SHOPPING = "shopping", _("Shopping: a qualifying order")
        CATEGORY_BONUS = "category_bonus", _("Shopping: extra category on the same day")
        REVIEW = "review", _("Fan: a product review")
        VISIT = "visit", _("Fan: a daily member-center visit")
        CLUB_POST = "club_post", _("Fan: a post in the member club")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        MONTH = "month", _("per month")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, unique=True)
    name = models.CharField(_("name"), max_length=100)
    points = models.PositiveIntegerField(_("points"), validators=[MinValueValidator(1)])
    min_amount = MoneyField(
        _("minimum order amount"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Shopping only: smaller orders earn nothing."),
    )
    cap = models.PositiveIntegerField(
        _("cap (points)"), null=True, blank=True, help_text=_("Empty: no cap.")
    )
    cap_period = models.CharField(
        _("cap period"), max_length=5, choices=Period.choices, blank=True, default=""
    )
    cap_group = models.SlugField(
        _("shared cap group"),
        max_length=30,
        blank=True,
        help_text=_("Rules with the same group share one cap (same cap and period)."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering: ClassVar[list[str]] = ["kind"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cap__isnull=True) | ~models.Q(cap_period=""),
                name="rule_cap_has_period",
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.cap is not None and not self.cap_period:
            errors["cap_period"] = _("A cap needs a period.")
        if self.min_amount is not None and self.kind != self.Kind.SHOPPING:
            errors["min_amount"] = _("Only shopping rules have a minimum order amount.")
        if self.cap_group:
            others = EarningRule.objects.filter(cap_group=self.cap_group).exclude(pk=self.pk)
            for other in others:
                if other.cap != self.cap or other.cap_period != self.cap_period:
                    errors["cap_group"] = _(
                        "Rules in one group share a cap: %(other)s has a different cap or period."
                    ) % {"other": other.name}
                    break
        if errors:
            raise ValidationError(errors)

    @property
    def cap_label(self) -> str:
        subject = self.cap_group or self.name.lower()
        if self.cap_period == self.Period.DAY:
            return gettext("daily %(subject)s cap of %(cap)d") % {
                "subject": subject,
                "cap": self.cap,
            }
        return gettext("monthly %(subject)s cap of %(cap)d") % {"subject": subject, "cap": self.cap}


class Campaign(models.Model):
    """A bonus on shopping points in a date window: a multiplier or a flat bonus per order."""

    name = models.CharField(_("name"), max_length=100)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1.01")), MaxValueValidator(Decimal("10"))],
        help_text=_("e.g. 2 doubles the shopping points of an order."),
    )
    bonus_points = models.PositiveIntegerField(
        _("flat bonus per order"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    tiers = models.ManyToManyField(
        Tier, blank=True, related_name="+", verbose_name=_("only for tiers")
    )
    categories = CategoryListField(
        _("only for categories"),
        max_length=255,
        blank=True,
        help_text=_("Comma-separated; empty: every order."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("bonus campaign")
        verbose_name_plural = _("bonus campaigns")
        ordering: ClassVar[list[str]] = ["-starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="campaign_window_ordered",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(multiplier__isnull=False, bonus_points__isnull=True)
                    | models.Q(multiplier__isnull=True, bonus_points__isnull=False)
                ),
                name="campaign_multiplier_xor_bonus",
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = _("The last day cannot be before the first day.")
        if (self.multiplier is None) == (self.bonus_points is None):
            errors["multiplier"] = _("Give either a multiplier or a flat bonus, not both.")
        if errors:
            raise ValidationError(errors)

    @property
    def category_list(self) -> list[str]:
        return text.category_list(self.categories)
