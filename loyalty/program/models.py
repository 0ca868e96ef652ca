"""The program's settings, its tier ladder, earning rules and campaigns, and the short-lived
cache of program-wide data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from zoneinfo import available_timezones

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import text
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

    CACHE_KEY = "loyalty:program:v1"

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

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        cache.delete(self.CACHE_KEY)

    @classmethod
    def load(cls) -> Program:
        pinned = _PINNED_PROGRAM.get()
        if pinned is not None:
            return pinned
        return program_data_cached(cls.CACHE_KEY, lambda: cls.objects.get_or_create(pk=1)[0], 60)


T = TypeVar("T")

# Within `program_data_version()` (the dashboard), the short-lived caches of program-wide data
# (settings, ladder, showcase) are keyed on the database's global page version
# (portal.page_versions): a render after any admin edit never reads the old snapshot.
_GLOBAL_VERSION: ContextVar[int | None] = ContextVar("program_data_version", default=None)


@contextmanager
def program_data_version(version: int | None) -> Iterator[None]:
    token = _GLOBAL_VERSION.set(version)
    try:
        yield
    finally:
        _GLOBAL_VERSION.reset(token)


_MEMO: dict[str, tuple[float, Any]] = {}
_MEMO_SIZE = 64


def program_data_cached(
    key: str, build: Callable[[], T], seconds: int, fresh: Callable[[T], bool] | None = None
) -> T:
    """Program-wide data (the settings, the ladder, the showcase) cached for `seconds`.

    Within `program_data_version()` it is memoised in this process under the version, so a
    page pays no cache round trip for it and never sees data older than the version. Elsewhere
    it lives in the shared cache under `key` (the writers drop it). `fresh` can refuse a hit.
    """
    version = _GLOBAL_VERSION.get()
    if version is None:
        value = cache.get(key)
        if value is None or (fresh is not None and not fresh(value)):
            value = build()
            cache.set(key, value, seconds)
        return value
    memo_key = f"{key}:g{version}"
    now = time.monotonic()
    hit = _MEMO.get(memo_key)
    if hit is not None and hit[0] > now and (fresh is None or fresh(hit[1])):
        return hit[1]  # type: ignore[no-any-return]
    value = build()
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[memo_key] = (now + seconds, value)
    return value


def program_data_forget() -> None:
    """Drop this process's memo (tests: each starts with empty caches)."""
    _MEMO.clear()


# Within `program_pinned()`, `Program.load()` answers one snapshot without a cache round trip.
_PINNED_PROGRAM: ContextVar[Program | None] = ContextVar("pinned_program", default=None)


@contextmanager
def program_pinned(program: Program | None = None) -> Iterator[Program]:
    """Use one snapshot of the program settings for a short unit of work (one API request
    applying a batch of events), instead of a cache round trip per `Program.load()`: the
    cached settings, or `program` (a snapshot the caller read)."""
    token = _PINNED_PROGRAM.set(program or Program.load())
    try:
        yield Program.load()
    finally:
        _PINNED_PROGRAM.reset(token)


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

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Now, and again after commit (a reader may have cached the old ladder meanwhile).
        cache.delete(LADDER_CACHE_KEY)
        transaction.on_commit(lambda: cache.delete(LADDER_CACHE_KEY))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        result = super().delete(*args, **kwargs)
        cache.delete(LADDER_CACHE_KEY)
        transaction.on_commit(lambda: cache.delete(LADDER_CACHE_KEY))
        return result


# The ladder as member pages read it (loyalty.selectors.cached_ladder): a handful of rows,
# cached briefly and dropped whenever a tier is saved or deleted.
LADDER_CACHE_KEY = "loyalty:ladder:v1"


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
