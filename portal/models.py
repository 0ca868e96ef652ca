"""The member center's own records: the inbox's notices and the dashboard's page versions.

Both tables keep the names they had when they lived in the members app (`db_table`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


class Notice(models.Model):
    """A message in the member's inbox: a coupon issued, a tier change, points expiring soon.

    `key` names what the notice is about ("coupon:12", "tier:2026-10-01", "lot:345"); it is
    unique per member, so each thing is announced at most once however often a job runs.
    The text is rendered from `kind` and `params` in the reader's language (portal.notices).
    """

    class Kind(models.TextChoices):
        COUPON_ISSUED = "coupon_issued", _("Coupon issued")
        TIER_CHANGED = "tier_changed", _("Tier changed")
        POINTS_EXPIRING = "points_expiring", _("Points expiring soon")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="notices", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("about"), max_length=64)
    params = models.JSONField(_("details"), default=dict, blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    # When its email went out (stamped under the row's lock by the outbox's email subscriber,
    # portal.notices); NULL: still to send, or refused and waiting for the outbox's retry.
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        db_table = "members_notice"
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.UniqueConstraint(fields=["member", "key"], name="notice_once_per_subject"),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="notice_member_inbox"),
            models.Index(
                fields=["member"], name="notice_member_unread", condition=models.Q(read_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} for member {self.member_id}"


class PageVersion(models.Model):
    """A counter per member (`scope` = member id), one for the whole program (`scope` = 0) and
    one per narrower program-wide scope (negative: core.cache.Scope), bumped by database
    triggers on every write of their tables (portal.page_versions).
    The dashboard's cached fragment is keyed on both, so it is never older than the data."""

    scope = models.BigIntegerField(_("scope"), primary_key=True)
    version = models.BigIntegerField(_("version"), default=1)

    class Meta:
        db_table = "members_pageversion"
        verbose_name = _("page version")
        verbose_name_plural = _("page versions")

    def __str__(self) -> str:
        return f"{self.scope}: {self.version}"
