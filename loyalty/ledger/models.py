"""The points ledger: accounts (balance and tier), append-only entries, lots (what expires when)
and the allocations of spent points to lots."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.program.models import Tier


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


class ExpiryAnnouncement(models.Model):
    """A lot whose coming expiry was announced (a `points.expiring` event): one row per lot,
    so the daily announcement, run as often as it likes, announces each lot once."""

    lot = models.OneToOneField(
        PointLot,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("lot"),
    )
    announced_on = models.DateField(_("announced on"))

    class Meta:
        verbose_name = _("expiry announcement")
        verbose_name_plural = _("expiry announcements")

    def __str__(self) -> str:
        return f"lot {self.lot_id} announced on {self.announced_on}"


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
