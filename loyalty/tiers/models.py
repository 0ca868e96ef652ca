"""The tier job and its record: floors set by staff, runs and their chunks, and every tier change."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.program.models import Tier


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

    Its tier changes are announced in the same transaction (a `tier.changed` event each,
    through the outbox): what follows from them (level-up rewards, notices, emails) cannot be
    lost between the chunk's commit and a queue."""

    run = models.ForeignKey(TierRun, on_delete=models.CASCADE, related_name="chunks")
    first_member_id = models.BigIntegerField()
    end_member_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)

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
