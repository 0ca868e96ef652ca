"""Reads of the loyalty state shared by pages, the API and other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from core.clock import add_months, day_bounds, month_end, program_today

from .models import (
    LADDER_CACHE_KEY,
    Account,
    Campaign,
    EarningRule,
    PointEntry,
    PointLot,
    Program,
    Tier,
    TierChange,
    program_data_cached,
)

if TYPE_CHECKING:
    from members.models import Member


def base_tier() -> Tier | None:
    """The tier every member starts in (the one at 0 points)."""
    return next((tier for tier in cached_ladder() if tier.min_points == 0), None)


def member_tier(member: Member) -> Tier | None:
    """The member's current tier: the evaluated one, else the base tier."""
    account = Account.objects.select_related("tier").filter(member=member).first()
    if account is not None and account.tier is not None:
        return account.tier
    return base_tier()


def member_account(member: Member) -> Account | None:
    """The member's loyalty account, fetched once per member object (so several cards on one
    page share one query)."""
    cached = member.__dict__.get("_loyalty_account")
    if cached is None:
        cached = (_with_next_expiry(Account.objects.filter(member_id=member.pk)).first(),)
        member.__dict__["_loyalty_account"] = cached
    return cached[0]


def _with_next_expiry(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Annotate each account with its next expiry (`next_expiry_on`, `next_expiry_points`),
    so a page gets the balance, the tier and the next expiry in one query."""
    live = PointLot.objects.filter(
        member_id=OuterRef("member_id"), remaining__gt=0, expires_on__isnull=False
    )
    next_on = live.order_by("expires_on").values("expires_on")[:1]
    points_then = (
        live.filter(expires_on=Subquery(next_on))
        .values("member_id")
        .annotate(total=Sum("remaining"))
        .values("total")[:1]
    )
    return accounts.annotate(
        next_expiry_on=Subquery(next_on), next_expiry_points=Subquery(points_then)
    )


def member_points_expiring(member: Member) -> tuple[int, date] | None:
    """Like `points_expiring`, from the account already fetched for this member object."""
    account = member_account(member)
    if account is None or account.next_expiry_on is None:  # type: ignore[attr-defined]
        return None
    return account.next_expiry_points, account.next_expiry_on  # type: ignore[attr-defined]


def tier_ladder() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")


def account_state(member: Member) -> tuple[int, int | None]:
    """(points balance, evaluated tier id or None), from the account fetched once per member
    object: the dashboard's cards share it within one request."""
    account = member_account(member)
    return (account.balance, account.tier_id) if account is not None else (0, None)


def points_balance(member_id: int) -> int:
    return (
        Account.objects.filter(member_id=member_id).values_list("balance", flat=True).first() or 0
    )


def points_expiring(member_id: int) -> tuple[int, date] | None:
    """(points, day) of the member's next expiry: the soonest day any of their lots expire."""
    row = (
        PointLot.objects.filter(member_id=member_id, remaining__gt=0, expires_on__isnull=False)
        .values("expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("expires_on")
        .first()
    )
    if row is None:
        return None
    return row["points"], row["expires_on"]


def point_history(member_id: int, kind: str | None = None) -> QuerySet[PointEntry]:
    """The member's entries, newest first (the index `entry_member_history` serves this)."""
    entries = PointEntry.objects.filter(member_id=member_id)
    if kind:
        entries = entries.filter(kind=kind)
    return entries.order_by("-occurred_at", "-id")


def ledger_mismatches() -> list[str]:
    """Every disagreement between cached balances, lots and the entries (set-based SQL)."""
    problems: list[str] = []
    sums = dict(
        PointEntry.objects.values("member_id")
        .annotate(s=Sum("points"))
        .values_list("member_id", "s")
    )
    lot_sums = dict(
        PointLot.objects.values("member_id")
        .annotate(s=Sum("remaining"))
        .values_list("member_id", "s")
    )
    balances = dict(Account.objects.values_list("member_id", "balance"))
    for member_id in sorted(set(sums) | set(balances) | set(lot_sums)):
        entries = sums.get(member_id) or 0
        balance = balances.get(member_id)
        if balance is None:
            problems.append(f"member {member_id}: entries sum to {entries} but no account exists")
            continue
        if balance != entries:
            problems.append(
                f"member {member_id}: cached balance {balance} != sum of entries {entries}"
            )
        in_lots = lot_sums.get(member_id) or 0
        if in_lots != max(entries, 0):
            problems.append(
                f"member {member_id}: lots hold {in_lots} points, entries say {max(entries, 0)}"
            )
    bad_lots = (
        PointLot.objects.annotate(taken=Coalesce(Sum("allocations__points"), 0))
        .exclude(remaining=F("points") + F("taken"))
        .values_list("pk", "member_id", "points", "taken", "remaining")
    )
    for pk, member_id, points, taken, remaining in bad_lots:
        problems.append(
            f"lot {pk} (member {member_id}): {points} points {taken} taken "
            f"but {remaining} remaining"
        )
    wrong_size = PointLot.objects.exclude(points=F("entry__points")).values_list(
        "pk", "member_id", "points", "entry__points"
    )
    for pk, member_id, points, entry_points in wrong_size:
        problems.append(
            f"lot {pk} (member {member_id}): holds {points} but its entry earned {entry_points}"
        )
    spent = (
        PointEntry.objects.filter(kind__in=[PointEntry.Kind.REDEEM, PointEntry.Kind.EXPIRE])
        # a positive EXPIRE gives back reversed points that had expired: it takes no lot
        .exclude(kind=PointEntry.Kind.EXPIRE, points__gt=0, reverses__isnull=False)
        .annotate(taken=Coalesce(Sum("allocations__points"), 0))
        .exclude(taken=F("points"))
        .values_list("pk", "member_id", "points", "taken")
    )
    for pk, member_id, points, taken in spent:
        problems.append(f"entry {pk} (member {member_id}): {points} points but lots gave {taken}")
    return problems


def member_tier_history(member: Member) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-period", "-created_at", "-pk")
    )


@dataclass(frozen=True)
class TierStatus:
    """What a member sees of their tier: the official tier and a live forecast.

    `qualifying_points` count up to the end of today (program time zone); `leaving` of them
    drop out of the window at the next evaluation (the end of this month); `projected` is what
    that evaluation counts if the member earns nothing more.
    """

    ladder: list[Tier]
    tier: Tier | None
    tier_effective_on: date | None
    qualifying_points: int
    next_tier: Tier | None
    points_to_next_tier: int | None
    progress_percent: int
    next_evaluation: date
    leaving: int
    projected: int
    needed_for_next: int | None
    needed_to_keep: int

    @property
    def keeps_tier(self) -> bool:
        return self.needed_to_keep == 0


def cached_ladder() -> list[Tier]:
    """The ladder for member pages: from the cache (60 s, dropped when a tier is saved)."""
    return program_data_cached(LADDER_CACHE_KEY, lambda: list(tier_ladder()), 60)


def member_tier_status(member: Member) -> TierStatus:
    """The member's tier and forecast in two queries (account, one aggregate) and the
    cached ladder."""
    program = Program.load()
    ladder = cached_ladder()
    account = member_account(member)
    tier_id = account.tier_id if account is not None else None
    tier = next((t for t in ladder if t.pk == tier_id), None) or next(
        (t for t in ladder if t.min_points == 0), None
    )
    today = program_today()
    end = day_bounds(today + timedelta(days=1))[0]
    start = day_bounds(add_months(today + timedelta(days=1), -program.qualifying_window_months))[0]
    evaluation = month_end(today)
    next_start = day_bounds(
        add_months(evaluation + timedelta(days=1), -program.qualifying_window_months)
    )[0]
    counted = Q(qualifying_at__gte=start, qualifying_at__lt=end, occurred_at__lt=end)
    sums = PointEntry.objects.filter(member_id=member.pk, qualifying_at__gte=start).aggregate(
        current=Sum(
            Case(When(counted, then="points"), default=Value(0), output_field=IntegerField())
        ),
        leaving=Sum(
            Case(
                When(counted & Q(qualifying_at__lt=next_start), then="points"),
                default=Value(0),
                output_field=IntegerField(),
            )
        ),
    )
    current, leaving = int(sums["current"] or 0), int(sums["leaving"] or 0)
    projected = current - leaving
    next_tier = None
    if tier is not None:
        next_tier = next((t for t in ladder if t.rank > tier.rank), None)
    progress = 100
    if tier is not None and next_tier is not None:
        span = next_tier.min_points - tier.min_points
        progress = max(0, min(100, (current - tier.min_points) * 100 // span))
    return TierStatus(
        ladder=ladder,
        tier=tier,
        tier_effective_on=account.tier_effective_on if account is not None else None,
        qualifying_points=current,
        next_tier=next_tier,
        points_to_next_tier=(
            max(0, next_tier.min_points - current) if next_tier is not None else None
        ),
        progress_percent=progress,
        next_evaluation=evaluation,
        leaving=leaving,
        projected=projected,
        needed_for_next=(
            max(0, next_tier.min_points - projected) if next_tier is not None else None
        ),
        needed_to_keep=max(0, tier.min_points - projected) if tier is not None else 0,
    )


@dataclass(frozen=True)
class ProgramOverview:
    """What "How points work" shows: the live settings, rules, campaigns and ladder."""

    program: Program
    rules: list[EarningRule]
    shared_caps: dict[str, list[str]]
    campaigns: list[Campaign]
    tiers: list[Tier]
    example_expiry: date | None
    today: date


def program_overview() -> ProgramOverview:
    """Three queries (rules, campaigns with their tiers, ladder) plus the cached program."""
    from .services import lot_expiry

    program = Program.load()
    today = program_today()
    rules = list(EarningRule.objects.filter(active=True).order_by("kind"))
    shared: dict[str, list[str]] = {}
    for rule in rules:
        if rule.cap_group:
            shared.setdefault(rule.cap_group, []).append(str(rule.name))
    campaigns = list(
        Campaign.objects.filter(active=True, ends_on__gte=today)
        .order_by("starts_on", "pk")
        .prefetch_related("tiers")[:20]
    )
    return ProgramOverview(
        program=program,
        rules=rules,
        shared_caps={group: names for group, names in shared.items() if len(names) > 1},
        campaigns=campaigns,
        tiers=list(Tier.objects.order_by("rank")),
        example_expiry=lot_expiry(today, program),
        today=today,
    )
