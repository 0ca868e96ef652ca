"""Reads of the points ledger: a member's account, balance, history and points about to expire,
and the ledger's self-check."""

from __future__ import annotations

from datetime import date

from django.db.models import (
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from loyalty.ledger.models import Account, PointEntry, PointLot
from loyalty.program.models import Tier
from loyalty.program.selectors import base_tier
from members.models import Member


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
