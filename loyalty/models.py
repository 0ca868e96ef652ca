"""The program's settings and its tier ladder. The ledger and rules live beside them."""

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
from core.fields import CategoriesField, CategoryListField

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
# (members.page_versions): a render after any admin edit never reads the old snapshot.
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


class TierFloor(models.Model):
    """A staff-set minimum tier for a member until a date, with the reason (audited: never
    edited or deleted; a new floor is added instead). The tier job never places the member
    below the highest floor whose `until` is on or after the evaluation date."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tier_floors",
        verbose_name=_("member"),
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("minimum tier")
    )
    until = models.DateField(_("until (inclusive)"))
    reason = models.CharField(_("reason"), max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("set by"),
    )
    created_at = models.DateTimeField(_("set at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tier floor")
        verbose_name_plural = _("tier floors")
        indexes = [models.Index(fields=["member", "until"], name="tierfloor_member_until")]

    def __str__(self) -> str:
        return f"floor {self.tier_id} for member {self.member_id} until {self.until}"


class TierRun(models.Model):
    """One monthly evaluation: one row per period (the evaluated month), unique."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    period = models.DateField(_("period (first day of the evaluated month)"), unique=True)
    as_of = models.DateField(_("evaluated as of (inclusive)"))
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end (exclusive)"))
    effective_on = models.DateField(_("changes take effect on"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    # While running: the planner's estimate of the accounts (an exact COUNT(*) of a million
    # accounts would cost the job a fifth of its own time); once done: the exact number
    # evaluated. Progress is counted in chunks, which are exact.
    total = models.PositiveIntegerField(_("members"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    moved_up = models.PositiveIntegerField(_("moved up"), default=0)
    moved_down = models.PositiveIntegerField(_("moved down"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("tier run")
        verbose_name_plural = _("tier runs")
        ordering: ClassVar[list[str]] = ["-period"]

    def __str__(self) -> str:
        return f"tier run {self.period:%Y-%m}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE or not self.chunks_total:
            return 100
        return self.chunks_done * 100 // self.chunks_total


class TierRunChunk(models.Model):
    """A range of member ids [first_member_id, end_member_id) of a run; processed once.

    Its follow-ups (level-up rewards, notices) are recorded too: `rewards_done` is set in its
    own transaction after the last reward, `notices_done` in the notices' transaction. A rerun
    of the run queues the steps still false for chunks done more than a few minutes ago.
    """

    run = models.ForeignKey(TierRun, on_delete=models.CASCADE, related_name="chunks")
    first_member_id = models.BigIntegerField()
    end_member_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    rewards_done = models.BooleanField(default=False)
    notices_done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "first_member_id"], name="tierrunchunk_unique")
        ]

    def __str__(self) -> str:
        return f"{self.run} [{self.first_member_id}, {self.end_member_id})"


class TierChange(models.Model):
    """A member's tier change.

    `evaluation`: decided by the monthly evaluation of `period` (the first day of the evaluated
    month): at most one per member and period. `instant`: a promotion between evaluations
    (`Program.instant_upgrade`); its `period` is the program-local day of the promotion, and a
    member reaches a given tier instantly at most once a day. `floor`: a promotion made at once
    by a staff-set floor (`floor`, which holds the staff member and the reason); at most one
    per floor, and its `period` is the program-local day it was set.
    """

    class Direction(models.TextChoices):
        UP = "up", _("Promotion")
        DOWN = "down", _("Demotion")

    class Kind(models.TextChoices):
        EVALUATION = "evaluation", _("Monthly evaluation")
        INSTANT = "instant", _("Instant upgrade")
        FLOOR = "floor", _("Tier floor set by staff")

    # The member's key is enforced by the database, but against the member's account
    # (migration 0012: a change is only ever written for a member with an account, and the
    # account references the member): the monthly job updates those same account rows in the
    # same transaction, so the key check at COMMIT locks a row already in memory instead of
    # reading a cold member row.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tier_changes",
        db_constraint=False,
        verbose_name=_("member"),
    )
    period = models.DateField(_("period"))
    # The tier keys are not indexed: no query looks changes up by tier, and the monthly job
    # would maintain two more indexes per move. Deleting a tier (refused while any change
    # refers to it) then scans the changes, as it scans the accounts.
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("from")
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("to")
    )
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    kind = models.CharField(
        _("decided by"), max_length=10, choices=Kind.choices, default=Kind.EVALUATION
    )
    qualifying_points = models.IntegerField(_("qualifying points"))
    effective_on = models.DateField(_("effective on"))
    applied = models.BooleanField(_("applied"), default=False)
    created_at = models.DateTimeField(_("decided at"))
    # No index of its own: the partial unique constraint below covers the floor rows only, so
    # the monthly job's inserts maintain nothing more.
    floor = models.ForeignKey(
        TierFloor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("floor"),
    )

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering: ClassVar[list[str]] = ["-period"]
        constraints = [
            # Period first (migration 0015): a month's evaluation rows all land at the
            # index's right edge, so the monthly job writes a few new leaf pages instead of
            # dirtying (and logging a full image of) nearly every leaf after a checkpoint; it
            # halved the job's WAL in bench/recalc.py. The level-up rewards' read of a chunk
            # (a period's promotions in a member range) uses it too; member lookups have the
            # member index.
            models.UniqueConstraint(
                fields=["period", "member"],
                condition=models.Q(kind="evaluation"),
                name="tierchange_once_per_period",
            ),
            models.UniqueConstraint(
                fields=["member", "period", "to_tier"],
                condition=models.Q(kind="instant"),
                name="tierchange_instant_once_a_day",
            ),
            models.UniqueConstraint(
                fields=["floor"],
                condition=models.Q(kind="floor"),
                name="tierchange_once_per_floor",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="floor", floor__isnull=False)
                    | (~models.Q(kind="floor") & models.Q(floor__isnull=True))
                ),
                name="tierchange_floor_iff_floor_kind",
            ),
        ]
        indexes = [
            models.Index(
                fields=["effective_on"],
                name="tierchange_pending",
                condition=models.Q(applied=False),
            )
        ]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.from_tier_id} -> {self.to_tier_id} ({self.period})"


class Account(models.Model):
    """A member's cached loyalty state: the points balance and the tier.

    One row per member, opened with the member (`account_open`). The balance is a cache of the
    sum of the member's point entries; it changes only in the same transaction as an entry,
    under this row's lock (see loyalty.services). It may be negative: a debt left by reversing
    points that were already spent. `tier` is null until the first evaluation, meaning the
    ladder's base tier.
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="loyalty_account",
        verbose_name=_("member"),
    )
    balance = models.IntegerField(_("points balance"), default=0)
    # No index on the tier (migration 0013): no query looks accounts up by tier (the coupon
    # issuing job's tier filter joins from the members), and without it an update of the tier
    # (the monthly job's moves) can be HOT, like the ledger's balance updates.
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("tier"),
    )
    tier_effective_on = models.DateField(_("tier effective on"), null=True, blank=True)
    qualifying_points = models.IntegerField(
        _("qualifying points at the last evaluation"), default=0
    )
    evaluated_on = models.DateField(_("last evaluated on"), null=True, blank=True)

    class Meta:
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")

    def __str__(self) -> str:
        return f"account of member {self.member_id}"


class PointEntry(models.Model):
    """One line of the points ledger. Append-only: corrections are new entries.

    On PostgreSQL a trigger refuses UPDATE and DELETE on this table.

    `qualifying_at` is what the tier job sums: for an earning it is `occurred_at`; for the
    reversal of an earning it is the *reversed earning's* `occurred_at` (so a return counts
    against the window its order was earned in), and it is null for spending, expiry and
    adjustments, which never count for or against a tier. Qualifying points for an evaluation
    ending at T are SUM(points) WHERE qualifying_at in [T - window, T) AND occurred_at < T.
    """

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Spent")
        EXPIRE = "expire", _("Expired")
        REVERSE = "reverse", _("Reversed")
        ADJUST = "adjust", _("Adjusted")

    # Indexes of the ledger (see Meta): every one is paid on each posting, so a key gets one
    # only if a query uses it. The member's is the history index (it leads with the member);
    # keys that are mostly empty get partial indexes of their non-null rows.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="point_entries",
        db_index=False,
        verbose_name=_("member"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    occurred_at = models.DateTimeField(_("occurred at"))
    qualifying_at = models.DateTimeField(_("counts for tiers at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=255)
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        db_index=False,
        verbose_name=_("reverses"),
    )
    api_key = models.ForeignKey(
        "members.ApiKey",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("API key"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("staff user"),
    )
    rule = models.ForeignKey(
        "EarningRule",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("earning rule"),
    )
    campaign = models.ForeignKey(
        "Campaign",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("campaign"),
    )
    event = models.ForeignKey(
        "Event",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("source event"),
    )
    order = models.ForeignKey(
        "Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("order"),
    )

    class Meta:
        verbose_name = _("point entry")
        verbose_name_plural = _("point entries")
        indexes = [
            models.Index(fields=["member", "-occurred_at", "-id"], name="entry_member_history"),
            models.Index(
                fields=["reverses"],
                name="entry_reverses",
                condition=models.Q(reverses__isnull=False),
            ),
            models.Index(
                fields=["created_by"],
                name="entry_by_staff",
                condition=models.Q(created_by__isnull=False),
            ),
            models.Index(
                fields=["campaign"],
                name="entry_campaign",
                condition=models.Q(campaign__isnull=False),
            ),
            # The tier job's per-member-range aggregate: an index-only scan on PostgreSQL.
            models.Index(
                fields=["member", "qualifying_at"],
                include=["points", "occurred_at"],
                name="entry_member_qualifying",
                condition=models.Q(qualifying_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="earn", points__gte=0)
                    | models.Q(kind__in=["redeem", "expire"], points__lte=0)
                    # an expiry given back when a reversal meets points that already expired
                    | models.Q(kind="expire", points__gt=0, reverses__isnull=False)
                    | models.Q(kind__in=["reverse", "adjust"])
                ),
                name="entry_points_sign_by_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.kind} for member {self.member_id}"


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


class PointLot(models.Model):
    """Points earned together, spent and expired together: one per earning (or positive
    adjustment). `remaining` = `points` + the sum of this lot's allocations, always."""

    member = models.ForeignKey(  # indexed by lot_member_fifo, which leads with it
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    entry = models.OneToOneField(
        "PointEntry", on_delete=models.PROTECT, related_name="lot", verbose_name=_("earned by")
    )
    points = models.PositiveIntegerField(_("points"))
    remaining = models.PositiveIntegerField(_("remaining"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("point lot")
        verbose_name_plural = _("point lots")
        indexes = [
            models.Index(
                fields=["expires_on", "member"],
                name="lot_due",
                condition=models.Q(remaining__gt=0),
            ),
            models.Index(fields=["member", "expires_on", "id"], name="lot_member_fifo"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__lte=models.F("points")), name="lot_remaining_le"
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class LotAllocation(models.Model):
    """Points taken out of a lot by an entry (spending, expiry, reversal, debt repayment)."""

    lot = models.ForeignKey(PointLot, on_delete=models.PROTECT, related_name="allocations")
    entry = models.ForeignKey("PointEntry", on_delete=models.PROTECT, related_name="allocations")
    points = models.IntegerField(_("points"))

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")
        constraints = [
            models.CheckConstraint(condition=models.Q(points__lt=0), name="allocation_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


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
