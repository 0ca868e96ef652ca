"""Every write to the loyalty state goes through these functions.

The ledger's rules, in one place:
- every change of points is a new `PointEntry`; the member's cached `Account.balance` changes
  by the same amount, with an F() expression, in the same transaction, under the account's
  row lock (`account_lock`, the only place that takes it);
- earnings (and positive adjustments) form `PointLot`s that expire by program policy;
  spending, expiry and reversals take points out of lots, soonest expiry first, recorded as
  `LotAllocation`s; so `sum(remaining of the member's lots) == max(balance, 0)`;
- only a reversal may take more than the balance: the rest is a debt (a negative balance)
  that later earnings repay first, and that blocks spending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from core.clock import local_date, program_today
from loyalty.ledger.models import (
    Account,
    ExpiryAnnouncement,
    LotAllocation,
    PointEntry,
    PointLot,
)
from loyalty.program.expiry import lot_expiry
from members.models import Member

if TYPE_CHECKING:
    from members.models import ApiKey

Kind = PointEntry.Kind


class LedgerError(Exception):
    """A refused ledger operation; `code` is the stable code the API answers with."""

    code = "ledger_error"
    status = 422


class InsufficientPoints(LedgerError):
    code = "insufficient_points"


@dataclass(frozen=True)
class Source:
    """Who and what produced an entry (carried on every entry it writes)."""

    api_key: ApiKey | None = None
    created_by_id: int | None = None
    event_id: int | None = None


NO_SOURCE = Source()


# Domain events of the ledger (core.outbox). Their payload is shaped in SQL, in one place
# (loyalty_points_event_rows), for these postings and the earning engine's write alike.
POINTS_EARNED = "points.earned"
POINTS_REVERSED = "points.reversed"
POINTS_EXPIRING = "points.expiring"
EXPIRY_NOTICE_DAYS = 30
POINTS_EVENT_ROWS = "SELECT * FROM loyalty_points_event_rows(%s::bigint[])"


def points_events_record(event_type: str, entry_ids: list[int]) -> None:
    """Record an event of `event_type` per ledger entry, in the posting's transaction."""
    if entry_ids:
        outbox.emit_query(event_type, POINTS_EVENT_ROWS, [entry_ids])


@transaction.atomic
def account_open(*, member_id: int) -> Account:
    """The member's loyalty account, created if missing (idempotent)."""
    account, _created = Account.objects.get_or_create(member_id=member_id)
    return account


def account_lock(*, member_id: int) -> Account:
    """The member's account, locked (SELECT ... FOR UPDATE) until the transaction ends.

    The one place the ledger takes its row lock. Creates the account first if it is missing
    (members made outside `member_create`). Must run inside a transaction.
    """
    assert transaction.get_connection().in_atomic_block, "account_lock needs a transaction"
    account = Account.objects.select_for_update().filter(member_id=member_id).first()
    if account is None:
        Account.objects.get_or_create(member_id=member_id)
        account = Account.objects.select_for_update().get(member_id=member_id)
    return account


# --- the posting primitives (callers hold the account lock) -------------------------------


def _post(
    account: Account,
    *,
    kind: str,
    points: int,
    occurred_at: datetime,
    reason: str,
    source: Source,
    qualifying_at: datetime | None = None,
    reverses: PointEntry | None = None,
    rule_id: int | None = None,
    campaign_id: int | None = None,
    order_id: int | None = None,
) -> PointEntry:
    entry = PointEntry.objects.create(
        member_id=account.member_id,
        kind=kind,
        points=points,
        occurred_at=occurred_at,
        qualifying_at=qualifying_at,
        reason=reason[:255],
        reverses=reverses,
        api_key=source.api_key,
        created_by_id=source.created_by_id,
        event_id=source.event_id,
        rule_id=rule_id,
        campaign_id=campaign_id,
        order_id=order_id,
    )
    if points:
        Account.objects.filter(pk=account.pk).update(balance=F("balance") + points)
        account.balance += points  # we hold the lock: the in-memory copy stays exact
    return entry


def _take_from_lots(
    account: Account, entry: PointEntry, amount: int, first: PointLot | None = None
) -> int:
    """Take up to `amount` points out of the member's lots, soonest expiry first (`first`
    before all others). Returns the points taken."""
    if amount <= 0:
        return 0
    lots = list(
        PointLot.objects.filter(member_id=account.member_id, remaining__gt=0).order_by(
            F("expires_on").asc(nulls_last=True), "id"
        )
    )
    if first is not None:
        lots.sort(key=lambda lot: lot.pk != first.pk)
    taken = 0
    allocations = []
    for lot in lots:
        if taken >= amount:
            break
        take = min(lot.remaining, amount - taken)
        PointLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        allocations.append(LotAllocation(lot=lot, entry=entry, points=-take))
        taken += take
    LotAllocation.objects.bulk_create(allocations)
    return taken


def _credit(
    account: Account,
    *,
    kind: str,
    points: int,
    occurred_at: datetime,
    reason: str,
    source: Source,
    rule_id: int | None = None,
    campaign_id: int | None = None,
    order_id: int | None = None,
) -> PointEntry:
    """Post an earning (or positive adjustment); its points form a lot that repays any debt."""
    debt = max(-account.balance, 0)
    entry = _post(
        account,
        kind=kind,
        points=points,
        occurred_at=occurred_at,
        qualifying_at=occurred_at if kind == Kind.EARN else None,
        reason=reason,
        source=source,
        rule_id=rule_id,
        campaign_id=campaign_id,
        order_id=order_id,
    )
    if points > 0:
        if kind == Kind.EARN:  # instant upgrades (tiers) and, later, webhooks follow it
            points_events_record(POINTS_EARNED, [entry.pk])
        repay = min(points, debt)
        lot = PointLot.objects.create(
            member_id=account.member_id,
            entry=entry,
            points=points,
            remaining=points - repay,
            expires_on=lot_expiry(local_date(occurred_at)),
        )
        if repay:
            LotAllocation.objects.create(lot=lot, entry=entry, points=-repay)
    return entry


def _debit(
    account: Account,
    *,
    kind: str,
    points: int,
    occurred_at: datetime,
    reason: str,
    source: Source,
) -> PointEntry:
    """Spend `points` (> 0) out of the lots; refused when the balance does not cover them."""
    if points <= 0:
        raise ValidationError({"points": _("Give a positive number of points.")})
    # Points past their expiry date are never spendable, even before the expiry job runs.
    _expire_due(account, today=program_today())
    if account.balance < points:
        raise InsufficientPoints(
            _("Not enough points: the balance is %(balance)d, %(points)d were asked.")
            % {"balance": account.balance, "points": points}
        )
    entry = _post(
        account, kind=kind, points=-points, occurred_at=occurred_at, reason=reason, source=source
    )
    taken = _take_from_lots(account, entry, points)
    assert taken == points, "lots disagree with the balance"
    return entry


def _reverse(
    account: Account,
    earning: PointEntry,
    *,
    points: int,
    occurred_at: datetime,
    reason: str,
    source: Source,
    order_id: int | None = None,
) -> PointEntry:
    """Reverse `points` of an earning: out of its own lot first, then the others; what the
    lots cannot cover (points already spent) becomes a debt.

    Points of the earning that already expired are not taken a second time: the REVERSE
    entry carries the whole amount (qualifying points drop by all of it), and a positive
    EXPIRE entry linked to the same earning gives back the part that had expired (expired
    points count first), so the balance drops only by what had not expired."""
    entry = _post(
        account,
        kind=Kind.REVERSE,
        points=-points,
        occurred_at=occurred_at,
        qualifying_at=earning.occurred_at if earning.kind == Kind.EARN else None,
        reverses=earning,
        reason=reason,
        source=source,
        order_id=order_id,
    )
    points_events_record(POINTS_REVERSED, [entry.pk])
    own_lot = PointLot.objects.filter(entry=earning).first()
    excused = min(points, _expired_not_excused(earning, own_lot))
    if excused:
        _post(
            account,
            kind=Kind.EXPIRE,
            points=excused,
            occurred_at=occurred_at,
            reverses=earning,
            reason=_("%(points)d of the reversed points had already expired: not taken again")
            % {"points": excused},
            source=source,
            order_id=order_id,
        )
    _take_from_lots(account, entry, points - excused, first=own_lot)
    return entry


def _expired_not_excused(earning: PointEntry, lot: PointLot | None) -> int:
    """Points of `earning` that expired and that no earlier reversal has given back yet."""
    if lot is None:
        return 0
    expired = -(
        LotAllocation.objects.filter(lot=lot, entry__kind=Kind.EXPIRE).aggregate(s=Sum("points"))[
            "s"
        ]
        or 0
    )
    excused = (
        PointEntry.objects.filter(reverses=earning, kind=Kind.EXPIRE).aggregate(s=Sum("points"))[
            "s"
        ]
        or 0
    )
    return max(expired - excused, 0)


# --- the ledger's public services ----------------------------------------------------------


@transaction.atomic
def points_award(
    *,
    member_id: int,
    points: int,
    reason: str,
    occurred_at: datetime | None = None,
    source: Source = NO_SOURCE,
    rule_id: int | None = None,
    campaign_id: int | None = None,
) -> PointEntry:
    """Credit earned points (0 is allowed: a capped event is still recorded)."""
    if points < 0:
        raise ValidationError({"points": _("Earned points cannot be negative.")})
    account = account_lock(member_id=member_id)
    return _credit(
        account,
        kind=Kind.EARN,
        points=points,
        occurred_at=occurred_at or timezone.now(),
        reason=reason,
        source=source,
        rule_id=rule_id,
        campaign_id=campaign_id,
    )


@transaction.atomic
def points_redeem(
    *,
    member_id: int,
    points: int,
    reason: str,
    occurred_at: datetime | None = None,
    source: Source = NO_SOURCE,
) -> PointEntry:
    """Spend points, soonest-expiring lots first. Raises InsufficientPoints (also in debt)."""
    account = account_lock(member_id=member_id)
    return _debit(
        account,
        kind=Kind.REDEEM,
        points=points,
        occurred_at=occurred_at or timezone.now(),
        reason=reason,
        source=source,
    )


@transaction.atomic
def points_reverse(
    *,
    entry_id: int,
    points: int | None = None,
    reason: str,
    occurred_at: datetime | None = None,
    source: Source = NO_SOURCE,
) -> PointEntry:
    """Reverse an earning, whole (points=None) or in part. Never more than is left of it."""
    earning = PointEntry.objects.get(pk=entry_id)
    account = account_lock(member_id=earning.member_id)
    if earning.kind != Kind.EARN:
        raise ValidationError({"entry": _("Only earnings can be reversed.")})
    left = earning.points + (
        PointEntry.objects.filter(reverses=earning, kind=Kind.REVERSE).aggregate(s=Sum("points"))[
            "s"
        ]
        or 0
    )
    points = left if points is None else points
    if points <= 0 or points > left:
        raise ValidationError(
            {
                "points": _("Between 1 and %(left)d points of this earning are left.")
                % {"left": left}
            }
        )
    return _reverse(
        account,
        earning,
        points=points,
        occurred_at=occurred_at or timezone.now(),
        reason=reason,
        source=source,
    )


@transaction.atomic
def points_adjust(
    *, member_id: int, points: int, reason: str, created_by_id: int | None
) -> PointEntry:
    """A staff correction: positive adds a lot, negative spends (never below zero)."""
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("A reason is required.")
    if not points:
        errors["points"] = _("Give a non-zero number of points.")
    if errors:
        raise ValidationError(errors)
    account = account_lock(member_id=member_id)
    source = Source(created_by_id=created_by_id)
    now = timezone.now()
    if points > 0:
        return _credit(
            account, kind=Kind.ADJUST, points=points, occurred_at=now, reason=reason, source=source
        )
    try:
        return _debit(
            account, kind=Kind.ADJUST, points=-points, occurred_at=now, reason=reason, source=source
        )
    except InsufficientPoints as exc:
        raise ValidationError({"points": str(exc)}) from exc


def points_expire_due(*, today: date | None = None) -> int:
    """Expire every lot due on or before `today` (program-local). Once per lot: a lot's
    remaining points are taken out under the member's lock, so a second run finds nothing.
    Returns the number of lots expired. One short transaction per member."""
    today = today or program_today()
    member_ids = list(
        PointLot.objects.filter(remaining__gt=0, expires_on__lte=today)
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()
    )
    expired = 0
    for member_id in member_ids:
        expired += _expire_member(member_id=member_id, today=today)
    return expired


@transaction.atomic
def _expire_member(*, member_id: int, today: date) -> int:
    return _expire_due(account_lock(member_id=member_id), today=today)


def _expire_due(account: Account, *, today: date) -> int:
    """Expire the member's lots due on or before `today` (caller holds the lock)."""
    member_id = account.member_id
    lots = list(
        PointLot.objects.filter(member_id=member_id, remaining__gt=0, expires_on__lte=today)
        .select_related("entry")
        .order_by("expires_on", "id")
    )
    now = timezone.now()
    for lot in lots:
        entry = _post(
            account,
            kind=Kind.EXPIRE,
            points=-lot.remaining,
            occurred_at=now,
            reason=_("%(points)d points earned %(earned)s expired on %(on)s")
            % {
                "points": lot.remaining,
                "earned": local_date(lot.entry.occurred_at).isoformat(),
                "on": lot.expires_on.isoformat() if lot.expires_on else "",
            },
            source=NO_SOURCE,
        )
        LotAllocation.objects.create(lot=lot, entry=entry, points=-lot.remaining)
        PointLot.objects.filter(pk=lot.pk).update(remaining=0)
    return len(lots)


# The lots expiring within the window, not announced yet: each is claimed by its announcement
# row (the primary key: a rerun, or two at once, claims nothing twice) and announced, one
# range of member ids per transaction (a first run may announce millions of lots: no giant
# transaction, no member's sequence locked for long).
ANNOUNCE_MEMBERS_PER_CHUNK = 50_000
_WINDOW_SQL = """
SELECT min(member_id), max(member_id) FROM {lot}
WHERE remaining > 0 AND expires_on BETWEEN %s AND %s
"""
_ANNOUNCE_SQL = """
INSERT INTO {announcement} (lot_id, announced_on)
SELECT id, %s FROM {lot}
WHERE remaining > 0 AND expires_on BETWEEN %s AND %s AND member_id >= %s AND member_id < %s
ORDER BY id
ON CONFLICT (lot_id) DO NOTHING
RETURNING lot_id
"""
_EXPIRING_ROWS = """
SELECT row_number() OVER (ORDER BY l.member_id, l.id) AS ord, l.member_id,
       jsonb_build_object('member', m.number, 'lot', l.id) AS subject,
       jsonb_build_object(
           'lot', l.id, 'points', l.remaining, 'expires_on', to_char(l.expires_on, 'YYYY-MM-DD')
       ) AS data
FROM {lot} l JOIN {member} m ON m.id = l.member_id
WHERE l.id = ANY (%s::bigint[])
"""


def points_expiring_announce(*, today: date, days: int = EXPIRY_NOTICE_DAYS) -> int:
    """Record a `points.expiring` event for each lot with points left that expires within
    `days` of `today` (program-local), once per lot: set-based, a transaction per range of
    member ids (its lots claimed and their events recorded together). Its subscribers write
    the inbox notice and email it. Returns the number of lots announced."""
    names = {
        "announcement": ExpiryAnnouncement._meta.db_table,
        "lot": PointLot._meta.db_table,
        "member": Member._meta.db_table,
    }
    last = today + timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(_WINDOW_SQL.format(**names), [today, last])
        low, high = cursor.fetchone()
    announced = 0
    if low is None:
        return announced
    for start in range(low, high + 1, ANNOUNCE_MEMBERS_PER_CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _ANNOUNCE_SQL.format(**names),
                [today, today, last, start, start + ANNOUNCE_MEMBERS_PER_CHUNK],
            )
            lots = [row[0] for row in cursor.fetchall()]
            if lots:
                outbox.emit_query(POINTS_EXPIRING, _EXPIRING_ROWS.format(**names), [lots])
        announced += len(lots)
    return announced
