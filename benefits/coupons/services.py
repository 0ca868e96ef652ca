"""Every write to benefits and coupons goes through these functions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.coupons.models import (
    Coupon,
    CouponIssueJob,
    CouponRedemption,
    CouponTemplate,
    DailyQuotaCounter,
    Occasion,
    new_coupon_code,
    normalize_code,
)
from benefits.coupons.selectors import coupon_refusal
from core import outbox
from core.clock import day_bounds, program_today
from core.queue import task_queue
from loyalty.ledger.selectors import member_tier
from loyalty.program.models import Tier
from loyalty.program.selectors import base_tier
from members.models import ApiKey, Member

logger = logging.getLogger(__name__)

BIRTHDAY_ON_FILE_DAYS = 2
INSERT_BATCH = 5000


class CouponError(Exception):
    """A refused coupon operation, with a stable code (the API and pages show `message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- Issuing --------------------------------------------------------------------------------


def _tier_filter(tiers: Iterable[Tier], prefix: str = "") -> Q:
    """Members whose current tier is one of `tiers` (no account / no tier = the base tier)."""
    tiers = list(tiers)
    if not tiers:
        return Q()
    q = Q(**{f"{prefix}loyalty_account__tier__in": tiers})
    base = base_tier()
    if base is not None and base in tiers:
        q |= Q(**{f"{prefix}loyalty_account__tier__isnull": True})
    return q


def _same_day_of_year(field: str, day: date) -> Q:
    """`field` falls on `day`'s month and day; 29 February counts on 28 February in other years."""
    q = Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    if day.month == 2 and day.day == 28 and not leap:
        q |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return q


def _occasion_members(occasion: str, day: date) -> QuerySet[Member]:
    members = Member.objects.filter(is_active=True)
    if occasion == Occasion.BIRTHDAY:
        return members.filter(
            _same_day_of_year("birthday", day),
            birthday_set_on__lte=day - timedelta(days=BIRTHDAY_ON_FILE_DAYS),
        )
    return members.filter(_same_day_of_year("joined_on", day), joined_on__year__lt=day.year)


def _reason(occasion: str, day: date) -> str:
    if occasion == Occasion.BIRTHDAY:
        return f"Birthday {day.year}"
    if occasion == Occasion.ANNIVERSARY:
        return f"Membership anniversary {day.year}"
    return str(occasion)


def _insert_coupons(rows: list[Coupon]) -> list[int]:
    """INSERT ... ON CONFLICT DO NOTHING; the ids of the rows that were really inserted.

    A row that lost to a unique constraint was not inserted, so its fresh random code is not
    in the table: the inserted rows are exactly those whose codes are there now.
    """
    inserted: list[int] = []
    for start in range(0, len(rows), INSERT_BATCH):
        chunk = rows[start : start + INSERT_BATCH]
        Coupon.objects.bulk_create(chunk, ignore_conflicts=True)
        codes = [row.code for row in chunk]
        inserted.extend(Coupon.objects.filter(code__in=codes).values_list("pk", flat=True))
    return inserted


COUPON_ISSUED = "coupon.issued"
COUPON_REDEEMED = "coupon.redeemed"
COUPON_RELEASED = "coupon.released"
COUPON_EXPIRED = "coupon.expired"
COUPON_VOIDED = "coupon.voided"

# The coupons announced to the member by an inbox notice and an email: birthday, anniversary,
# level-up and staff jobs (a daily claim or a reward exchange is seen on the page that made it).
ANNOUNCED_OCCASIONS = frozenset({Occasion.BIRTHDAY, Occasion.ANNIVERSARY, Occasion.LEVEL_UP})


def _coupon_events(
    event_type: str, coupon_ids: Iterable[int], extra: dict[int, dict[str, Any]] | None = None
) -> int:
    """Record `event_type` for each coupon, in the caller's transaction: the coupon as it is
    now (code, occasion, template, validity, status), plus `extra[coupon id]`."""
    rows = (
        Coupon.objects.filter(pk__in=list(coupon_ids))
        .order_by("member_id", "pk")
        .values_list(
            "pk",
            "member_id",
            "member__number",
            "code",
            "occasion",
            "job_id",
            "template_id",
            "template__name",
            "valid_from",
            "valid_until",
            "status",
        )
    )
    events = [
        outbox.Event(
            member_id=member_id,
            subject={"member": number, "coupon": pk, "template": template_id},
            data={
                "code": code,
                "occasion": occasion,
                "template": {"id": template_id, "name": name},
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "status": status,
                "announced": occasion in ANNOUNCED_OCCASIONS or job_id is not None,
                **(extra or {}).get(pk, {}),
            },
        )
        for (
            pk,
            member_id,
            number,
            code,
            occasion,
            job_id,
            template_id,
            name,
            valid_from,
            valid_until,
            status,
        ) in rows.iterator()
    ]
    return len(outbox.emit_many(event_type, events))


def coupons_announce(coupon_ids: list[int]) -> int:
    """Record a `coupon.issued` event per coupon, in the transaction that issued them. Its
    subscribers (settings) write the inbox notice and send its email when the coupon is one
    the member is told of (`announced`). Returns the number of events."""
    return _coupon_events(COUPON_ISSUED, coupon_ids)


@dataclass(frozen=True)
class IssueResult:
    birthday: int
    anniversary: int

    @property
    def total(self) -> int:
        return self.birthday + self.anniversary


@transaction.atomic
def issue_occasion_coupons(*, day: date | None = None) -> IssueResult:
    """Issue the birthday and anniversary coupons of `day` (program-local; default today).

    Set-based: one SELECT of the eligible members per template, one bulk INSERT ... ON
    CONFLICT DO NOTHING. The database's "once per member per occasion per year" makes a rerun
    on the same date insert nothing. Each coupon is announced through the outbox
    (`coupons_announce`): its notice and email follow from there.
    """
    day = day or program_today()
    issued_at = day_bounds(day)[0]
    period = date(day.year, 1, 1)
    counts: dict[str, int] = {}
    new_ids: list[int] = []
    for occasion in (Occasion.BIRTHDAY, Occasion.ANNIVERSARY):
        counts[occasion] = 0
        for template in CouponTemplate.objects.for_occasion(occasion).prefetch_related(
            "eligible_tiers"
        ):
            valid_from, valid_until = template.validity(issued_at)
            if valid_until <= issued_at:
                continue
            already = Coupon.objects.filter(member=OuterRef("pk"), occasion=occasion, period=period)
            member_ids = (
                _occasion_members(occasion, day)
                .filter(_tier_filter(template.eligible_tiers.all()))
                .exclude(Exists(already))
                .values_list("pk", flat=True)
            )
            reason = _reason(occasion, day)
            rows = [
                Coupon(
                    code=new_coupon_code(),
                    member_id=member_id,
                    template=template,
                    occasion=occasion,
                    period=period,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    reason=reason,
                    issued_at=issued_at,
                )
                for member_id in member_ids.iterator(chunk_size=INSERT_BATCH)
            ]
            inserted = _insert_coupons(rows)
            if inserted:
                CouponTemplate.objects.filter(pk=template.pk).update(
                    issued_count=F("issued_count") + len(inserted)
                )
            counts[occasion] += len(inserted)
            new_ids.extend(inserted)
    coupons_announce(new_ids)
    logger.info(
        "occasion coupons for %s: %d birthday, %d anniversary",
        day,
        counts[Occasion.BIRTHDAY],
        counts[Occasion.ANNIVERSARY],
    )
    return IssueResult(birthday=counts[Occasion.BIRTHDAY], anniversary=counts[Occasion.ANNIVERSARY])


def _reserve(template_id: int, count: int) -> bool:
    """Take `count` from the template's total quantity (a guarded UPDATE); False if too few."""
    return bool(
        CouponTemplate.objects.filter(pk=template_id)
        .filter(Q(total_quantity__isnull=True) | Q(total_quantity__gte=F("issued_count") + count))
        .update(issued_count=F("issued_count") + count)
    )


def _tier_eligible(template: CouponTemplate, tier: Tier | None) -> bool:
    tiers = list(template.eligible_tiers.all())
    return not tiers or (tier is not None and tier in tiers)


@transaction.atomic
@transaction.atomic
def levelup_reward_issue(*, member_id: int, tier_id: int, period: date) -> Coupon | None:
    """Issue the level-up reward for a promotion into `tier_id` in `period`.

    Called by the outbox's subscriber of `tier.changed`. At most one coupon per member per
    tier per period (a unique constraint): a second call returns None and writes nothing, as
    does a promotion into a tier no active level-up template covers.
    """
    template = (
        CouponTemplate.objects.for_occasion(Occasion.LEVEL_UP)
        .filter(Q(eligible_tiers=tier_id) | Q(eligible_tiers__isnull=True))
        .first()
    )
    if template is None:
        return None
    tier = Tier.objects.get(pk=tier_id)
    issued_at = timezone.now()
    valid_from, valid_until = template.validity(issued_at)
    if valid_until <= issued_at:  # a fixed window that is over: no coupon born expired
        logger.warning("level-up template %s: its validity window is over", template.pk)
        return None
    try:
        with transaction.atomic():
            if not _reserve(template.pk, 1):
                logger.warning("level-up template %s is sold out", template.pk)
                return None
            coupon = Coupon.objects.create(
                member_id=member_id,
                template=template,
                occasion=Occasion.LEVEL_UP,
                tier=tier,
                period=period,
                valid_from=valid_from,
                valid_until=valid_until,
                reason=f"Promoted to {tier.name}",
                issued_at=issued_at,
            )
    except IntegrityError:
        return None
    coupons_announce([coupon.pk])
    return coupon


@transaction.atomic
def daily_coupon_claim(*, member: Member, template_id: int, day: date | None = None) -> Coupon:
    """Claim one of today's limited daily coupons. The quota is exact under concurrency.

    The coupon row (one per member per template per day, unique) is inserted first; then a
    guarded UPDATE takes one from the day's counter row (`claimed < quota`), which PostgreSQL
    re-checks after waiting on the row lock. No place left: everything rolls back.
    """
    template = (
        CouponTemplate.objects.for_occasion(Occasion.DAILY_QUOTA).filter(pk=template_id).first()
    )
    if template is None or template.daily_quota is None:
        raise CouponError("not_found", _("This coupon cannot be claimed."))
    if not _tier_eligible(template, member_tier(member)):
        raise CouponError("not_eligible", _("Your tier does not include this coupon."))
    day = day or program_today()
    issued_at = timezone.now()
    valid_from, valid_until = template.validity(issued_at)
    if valid_until <= issued_at:  # a fixed window that is over: nothing to claim
        raise CouponError("not_found", _("This coupon cannot be claimed."))
    DailyQuotaCounter.objects.get_or_create(template=template, day=day)
    try:
        with transaction.atomic():
            coupon = Coupon.objects.create(
                member=member,
                template=template,
                occasion=Occasion.DAILY_QUOTA,
                period=day,
                valid_from=valid_from,
                valid_until=valid_until,
                reason=f"Limited daily coupon {day.isoformat()}",
                issued_at=issued_at,
            )
    except IntegrityError as exc:
        raise CouponError("already_claimed", _("You already claimed this coupon today.")) from exc
    taken = DailyQuotaCounter.objects.filter(
        template=template, day=day, claimed__lt=template.daily_quota
    ).update(claimed=F("claimed") + 1)
    if not taken or not _reserve(template.pk, 1):
        raise CouponError("sold_out", _("Today's coupons are all taken. Try again tomorrow."))
    return coupon


@transaction.atomic
@transaction.atomic
def coupons_expire(*, now: datetime | None = None) -> int:
    """Mark available coupons past their end as expired (a guarded UPDATE of the rows locked
    first, each recorded as `coupon.expired`). Idempotent."""
    due = Coupon.objects.past_due(now or timezone.now())
    # rows a redemption holds are left to the next run (they may not expire)
    expired = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True))
    Coupon.objects.filter(pk__in=expired).update(status=Coupon.Status.EXPIRED)
    _coupon_events(COUPON_EXPIRED, expired)
    return len(expired)


@transaction.atomic
def coupons_void(*, coupon_ids: Iterable[int]) -> int:
    """Cancel available coupons (staff), each recorded as `coupon.voided`. Used or expired
    ones are left as they are."""
    available = Coupon.objects.filter(pk__in=list(coupon_ids), status=Coupon.Status.AVAILABLE)
    voided = list(available.select_for_update().values_list("pk", flat=True))
    Coupon.objects.filter(pk__in=voided).update(status=Coupon.Status.VOID)
    _coupon_events(COUPON_VOIDED, voided)
    return len(voided)


# --- Staff issues -------------------------------------------------------------------------


def _job_members(job: CouponIssueJob) -> QuerySet[Member]:
    """The job's audience. Members who already hold a coupon of its template and round are
    part of it (handled and skipped: `processed` counts them, `issued` does not)."""
    members = Member.objects.filter(is_active=True).filter(_tier_filter(job.tiers.all()))
    if job.joined_from:
        members = members.filter(joined_on__gte=job.joined_from)
    if job.joined_until:
        members = members.filter(joined_on__lte=job.joined_until)
    if job.language:
        members = members.filter(language=job.language)
    numbers = job.numbers()
    if numbers:
        members = members.filter(number__in=numbers)
    limit = job.template.per_member_limit
    if limit:
        full = (
            Coupon.objects.filter(template=job.template)
            .values("member")
            .annotate(held=Count("id"))
            .filter(held__gte=limit)
            .values("member")
        )
        members = members.exclude(pk__in=full)
    return members


@transaction.atomic
def coupon_issue_job_start(*, job: CouponIssueJob) -> CouponIssueJob:
    """Give the job its round, count its members and queue its task after commit.

    A job joins its template's ordinary round (0): members who already got this template
    from a job are skipped. With `issue_again`, it gets a round of its own (the template's
    highest + 1, taken under the template's row lock, so two such jobs never share one)."""
    if job.issue_again:
        CouponTemplate.objects.select_for_update().filter(pk=job.template_id).first()
        highest = CouponIssueJob.objects.filter(template_id=job.template_id).aggregate(
            m=Max("round")
        )["m"]
        job.round = (highest or 0) + 1
    else:
        job.round = 0
    job.total = _job_members(job).count()
    job.status = CouponIssueJob.Status.PENDING
    job.save(update_fields=["round", "total", "status"])
    _job_enqueue_after_commit(job.pk)
    return job


def _job_enqueue_after_commit(job_id: int) -> None:
    transaction.on_commit(lambda: task_queue("benefits.run_coupon_issue_job", job_id))


def _job_batch(job_id: int, batch_size: int) -> bool:
    """One batch in one transaction, under the job's row lock: the next members after
    `last_member_id`, their coupons (ON CONFLICT DO NOTHING on the template's round), and the
    job's position and counters, committed together. False when the job is over."""
    with transaction.atomic():
        job = (
            CouponIssueJob.objects.select_for_update(of=("self",))
            .select_related("template")
            .get(pk=job_id)
        )
        if job.status in (CouponIssueJob.Status.DONE, CouponIssueJob.Status.FAILED):
            return False
        template = job.template
        ids = list(
            _job_members(job)
            .filter(pk__gt=job.last_member_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        now = timezone.now()
        if not ids:
            CouponIssueJob.objects.filter(pk=job_id).update(
                status=CouponIssueJob.Status.DONE,
                total=F("processed"),
                finished_at=now,
                progressed_at=now,
            )
            return False
        valid_from, valid_until = template.validity(now)
        rows = [
            Coupon(
                code=new_coupon_code(),
                member_id=member_id,
                template=template,
                occasion=Occasion.MANUAL,
                job=job,
                job_round=job.round,
                valid_from=valid_from,
                valid_until=valid_until,
                reason=job.reason,
                issued_at=now,
            )
            for member_id in ids
        ]
        inserted = _insert_coupons(rows)
        if not _reserve(template.pk, len(inserted)):
            raise CouponError("sold_out", _("The template's total quantity is used up."))
        CouponIssueJob.objects.filter(pk=job_id).update(
            status=CouponIssueJob.Status.RUNNING,
            last_member_id=ids[-1],
            processed=F("processed") + len(ids),
            issued=F("issued") + len(inserted),
            progressed_at=now,
        )
        coupons_announce(inserted)
    return True


def coupon_issue_job_run(*, job_id: int, batch_size: int = 1000) -> CouponIssueJob:
    """Issue the job's coupons in batches (`_job_batch`), from where it stopped. Safe to run
    twice, side by side, or after a kill: a second runner waits on the job's row lock and
    continues from the committed position; a member gets one coupon per template and round.
    A done or failed job is left alone (staff resume a failed one from the admin)."""
    job = CouponIssueJob.objects.select_related("template").get(pk=job_id)
    if job.status in (CouponIssueJob.Status.DONE, CouponIssueJob.Status.FAILED):
        return job
    try:
        _valid_from, valid_until = job.template.validity(timezone.now())
        if valid_until <= timezone.now():  # a fixed window that is over: no coupon born expired
            raise CouponError("template_window_over", _("The template's validity window is over."))
        while _job_batch(job_id, batch_size):
            pass
    except CouponError as exc:
        CouponIssueJob.objects.filter(pk=job_id).exclude(status=CouponIssueJob.Status.DONE).update(
            status=CouponIssueJob.Status.FAILED, error=exc.message, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


@transaction.atomic
def coupon_issue_jobs_resume(*, job_ids: Iterable[int]) -> tuple[int, int]:
    """Resume jobs from where they stopped (the admin's action): a failed one becomes
    waiting again; each not done is queued after commit. Returns (queued, already done)."""
    jobs = list(CouponIssueJob.objects.select_for_update().filter(pk__in=list(job_ids)))
    queued = done = 0
    for job in jobs:
        if job.status == CouponIssueJob.Status.DONE:
            done += 1
            continue
        if job.status == CouponIssueJob.Status.FAILED:
            CouponIssueJob.objects.filter(pk=job.pk).update(
                status=CouponIssueJob.Status.PENDING, error="", finished_at=None
            )
        _job_enqueue_after_commit(job.pk)
        queued += 1
    return queued, done


JOB_STALE_AFTER = timedelta(minutes=10)


def coupon_issue_jobs_resume_stale(*, now: datetime | None = None) -> int:
    """Beat (every 5 minutes): queue the waiting or running jobs with no progress for 10
    minutes (a killed worker, a task lost before it was queued). A job still running takes
    the row lock first, so a second runner only continues after it. Returns how many."""
    now = now or timezone.now()
    stale = CouponIssueJob.objects.filter(
        status__in=[CouponIssueJob.Status.PENDING, CouponIssueJob.Status.RUNNING]
    ).filter(
        Q(progressed_at__lt=now - JOB_STALE_AFTER)
        | Q(progressed_at__isnull=True, created_at__lt=now - JOB_STALE_AFTER)
    )
    ids = list(stale.values_list("pk", flat=True))
    with transaction.atomic():
        for job_id in ids:
            _job_enqueue_after_commit(job_id)
    return len(ids)


# --- Emails ---------------------------------------------------------------------------------


# --- Checkout ------------------------------------------------------------------------------


@transaction.atomic
def coupon_redeem(
    *,
    api_key: ApiKey,
    request_id: str,
    code: str,
    member_number: str,
    order_number: str,
    order_amount: Decimal,
    now: datetime | None = None,
) -> tuple[CouponRedemption, bool]:
    """Redeem a coupon for an order. Returns (redemption, created).

    Idempotent by (API key, request id): the same id again returns the first redemption. The
    coupon row is locked (SELECT ... FOR UPDATE) before its state is read, and at most one
    unreleased redemption per coupon is a database rule: of many concurrent redemptions of one
    coupon, exactly one succeeds; the others get `coupon_used`.
    """
    now = now or timezone.now()
    normalized = normalize_code(code)

    def replay() -> CouponRedemption | None:
        done = (
            CouponRedemption.objects.select_related("coupon__member")
            .filter(api_key=api_key, request_id=request_id)
            .first()
        )
        if done is not None and done.coupon.code != normalized:
            raise CouponError("id_conflict", _("This id was already used for another coupon."))
        return done

    if (done := replay()) is not None:
        return done, False
    coupon = (
        Coupon.objects.select_for_update()
        .select_related("member", "template")
        .filter(code=normalized)
        .first()
    )
    if (done := replay()) is not None:  # a twin request committed while we waited
        return done, False
    refusal = coupon_refusal(
        coupon, member_number=member_number, order_amount=order_amount, now=now
    )
    if refusal is not None:
        raise CouponError(f"coupon_{refusal[0]}", refusal[1])
    assert coupon is not None
    discount = coupon.template.discount_for(order_amount)
    try:
        with transaction.atomic():
            redemption = CouponRedemption.objects.create(
                coupon=coupon,
                api_key=api_key,
                request_id=request_id,
                order_number=order_number,
                order_amount=order_amount,
                discount=discount,
                redeemed_at=now,
            )
    except IntegrityError as exc:
        raise CouponError("coupon_used", _("This coupon was already used.")) from exc
    Coupon.objects.filter(pk=coupon.pk).update(
        status=Coupon.Status.REDEEMED, redeemed_at=now, order_number=order_number
    )
    _coupon_events(
        COUPON_REDEEMED,
        [coupon.pk],
        {
            coupon.pk: {
                "order_number": order_number,
                "order_amount": str(order_amount),
                "discount": str(discount),
                "redeemed_at": now.isoformat(),
            }
        },
    )
    return redemption, True


@transaction.atomic
def coupon_release(
    *,
    api_key: ApiKey,
    request_id: str,
    code: str,
    order_number: str,
    now: datetime | None = None,
) -> CouponRedemption:
    """Return a redeemed coupon to its member when that order is cancelled. Idempotent: a
    release of an order already released returns that release."""
    now = now or timezone.now()
    coupon = Coupon.objects.select_for_update().filter(code=normalize_code(code)).first()
    if coupon is None:
        raise CouponError("coupon_not_found", _("No coupon with this code."))
    redemptions = CouponRedemption.objects.select_related("coupon__member").filter(
        coupon=coupon, order_number=order_number
    )
    active = redemptions.filter(released_at__isnull=True).first()
    if active is None:
        released = redemptions.order_by("-released_at").first()
        if released is None:
            raise CouponError(
                "redemption_not_found", _("This coupon was not redeemed for this order.")
            )
        return released
    active.released_at = now
    active.release_id = request_id
    active.save(update_fields=["released_at", "release_id"])
    status = Coupon.Status.AVAILABLE if coupon.valid_until > now else Coupon.Status.EXPIRED
    Coupon.objects.filter(pk=coupon.pk).update(status=status, redeemed_at=None, order_number="")
    _coupon_events(COUPON_RELEASED, [coupon.pk], {coupon.pk: {"order_number": order_number}})
    return active
