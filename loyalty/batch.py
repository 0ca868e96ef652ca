"""Receiving many orders at once: the batch path of `order.received` events.

`orders_receive` applies a run of `order.received` events in one transaction and a constant
number of statements, with the same rules and answers as `event_ingest` applied to each in turn:

- every member of the run is locked in one `SELECT ... FOR UPDATE ORDER BY member_id`, so caps
  and categories counted from the database stay exact while the run computes in memory;
- an event id already received answers its stored answer (or `idempotency_conflict`), an order
  number already received answers `order_already_received`; neither writes anything;
- events, orders, entries, lots and allocations are inserted with one bulk INSERT each, and the
  balances change in one `UPDATE ... SET balance = balance + CASE ...`.

Locks come first, then the event rows (sorted by id), then the orders (sorted by number), as
in `event_ingest`, so concurrent runs and single events cannot deadlock on each other.

Each event is still applied whole or not at all: refused events write nothing, and if the
database refuses the bulk write (a concurrent twin inserted the same event id or order number
after our checks), the whole transaction rolls back and the run is applied event by event with
`event_ingest`, whose own transaction and unique constraints decide each event alone.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from members.page_versions import PG_DEFERRED_SETTING

from .clock import day_bounds, local_date, month_bounds, program_timezone
from .earning import (
    IdempotencyConflict,
    OrderExists,
    Outcome,
    below_minimum_reason,
    campaign_bonus,
    campaign_reason,
    category_bonus_what,
    earn_reason,
    event_ingest,
    reversed_points,
)
from .models import (
    Account,
    Campaign,
    EarningRule,
    Event,
    Order,
    PointEntry,
)
from .selectors import base_tier
from .services import LedgerError, lot_expiry
from .tiers import tiers_instant_upgrade_schedule

if TYPE_CHECKING:
    from members.models import ApiKey

Kind = PointEntry.Kind
Rule = EarningRule.Kind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One validated `order.received` event of a batch."""

    key: str
    member_id: int
    member_number: str
    occurred_at: datetime
    number: str
    amount: Decimal
    currency: str
    categories: list[str]
    digest: str

    def data(self) -> dict[str, Any]:
        """The event as `event_ingest` takes it (the fallback path)."""
        return {
            "order": {
                "number": self.number,
                "amount": self.amount,
                "currency": self.currency,
                "categories": self.categories,
            }
        }


Result = Outcome | LedgerError


def orders_receive(*, api_key: ApiKey, events: list[Received]) -> list[Result]:
    """Apply `events` (distinct event ids) in order; one result per event, in order."""
    if not events:
        return []
    try:
        return _receive_run(api_key=api_key, events=events)
    except (IntegrityError, OperationalError) as exc:
        # A concurrent twin won a unique constraint after our checks (or, defensively, the
        # database broke a deadlock): let each event's own transaction decide (replay,
        # conflict or order_already_received).
        if isinstance(exc, OperationalError) and not _deadlock(exc):
            raise
        logger.warning(
            "batch run of %d events refused by the database (%s); applying them one at a time",
            len(events),
            type(exc).__name__,
        )
        return [receive_one(api_key, e) for e in events]


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def receive_one(api_key: ApiKey, event: Received) -> Result:
    """One event through `event_ingest` (a refusal returned, not raised)."""
    try:
        return event_ingest(
            api_key=api_key,
            key=event.key,
            type="order.received",
            member_id=event.member_id,
            member_number=event.member_number,
            occurred_at=event.occurred_at,
            data=event.data(),
            digest=event.digest,
        )
    except LedgerError as exc:
        return exc


def _period_start(rule: EarningRule, day: date) -> datetime:
    if rule.cap_period == EarningRule.Period.DAY:
        return day_bounds(day)[0]
    return month_bounds(day)[0]


def _period_bounds(rule: EarningRule, day: date) -> tuple[datetime, datetime]:
    if rule.cap_period == EarningRule.Period.DAY:
        return day_bounds(day)
    return month_bounds(day)


def _cap_key(rule: EarningRule) -> str:
    return f"group:{rule.cap_group}" if rule.cap_group else f"rule:{rule.pk}"


class _Run:
    """The in-memory state of a run: locked accounts, cap usage and each day's categories."""

    def __init__(self, api_key: ApiKey, events: list[Received]) -> None:
        self.api_key = api_key
        self.events = events
        self.all_rules = {r.pk: r for r in EarningRule.objects.all()}
        active = {r.kind: r for r in self.all_rules.values() if r.active}
        self.rule = active.get(Rule.SHOPPING)
        self.bonus_rule = active.get(Rule.CATEGORY_BONUS)
        self.capped = [r for r in (self.rule, self.bonus_rule) if r is not None and r.cap]
        self.days = {e.key: local_date(e.occurred_at) for e in events}
        self.used: dict[tuple[int, str, datetime], int] = defaultdict(int)
        self.categories: dict[tuple[int, date], set[str]] = defaultdict(set)
        self._campaigns: list[Campaign] | None = None
        self._base_tier: tuple[int | None] | None = None

    def lock_accounts(self) -> dict[int, _Held]:
        """Lock the run's accounts in member order; what the plan needs of each."""
        member_ids = sorted({e.member_id for e in self.events})

        def locked(ids: list[int]) -> dict[int, _Held]:
            rows = (
                Account.objects.select_for_update()
                .filter(member_id__in=ids)
                .order_by("member_id")
                .values_list("member_id", "balance", "tier_id")
            )
            return {m: _Held(m, balance, tier_id) for m, balance, tier_id in rows}

        accounts = locked(member_ids)
        missing = [m for m in member_ids if m not in accounts]
        if missing:  # members made outside member_create: open their accounts first
            Account.objects.bulk_create(
                [Account(member_id=m) for m in missing], ignore_conflicts=True
            )
            accounts.update(locked(missing))
        return accounts

    def load_usage(self, events: list[Received]) -> None:
        """What the members already earned in each cap period and each day's categories."""
        if not events:
            return
        member_ids = {e.member_id for e in events}
        zone = program_timezone()
        if self.capped:
            bounds = [_period_bounds(r, self.days[e.key]) for r in self.capped for e in events]
            start, end = min(b[0] for b in bounds), max(b[1] for b in bounds)
            capped_ids = {
                pk
                for pk, other in self.all_rules.items()
                for r in self.capped
                if (other.cap_group == r.cap_group if r.cap_group else pk == r.pk)
            }
            # Net of reversals, as `earning.cap_used`: driven by the members' earnings in the
            # period (ranges of the history index), each with its reversals, so the cost does
            # not grow with the members' histories. The program-local day is computed in the
            # database: a member's many entries of a day come back as one row.
            rows = (
                PointEntry.objects.filter(
                    member_id__in=member_ids,
                    kind=Kind.EARN,
                    rule_id__in=capped_ids,
                    occurred_at__gte=start,
                    occurred_at__lt=end,
                )
                .annotate(cap_day=TruncDate("occurred_at", tzinfo=zone))
                .values_list("member_id", "rule_id", "cap_day")
                .annotate(points=Sum(F("points") + reversed_points()))
                .order_by()
            )
            for member_id, rule_id, day, points in rows:
                other = self.all_rules[rule_id]
                for r in self.capped:
                    same = other.cap_group == r.cap_group if r.cap_group else rule_id == r.pk
                    if same:
                        self.used[(member_id, _cap_key(r), _period_start(r, day))] += points
        if self.rule is not None and self.bonus_rule is not None:
            days = [day_bounds(self.days[e.key]) for e in events]
            orders = Order.objects.filter(
                member_id__in=member_ids,
                received_at__gte=min(d[0] for d in days),
                received_at__lt=max(d[1] for d in days),
                fraud=False,
            )
            if self.rule.min_amount is not None:
                orders = orders.filter(amount__gte=self.rule.min_amount)
            listed_by_day = orders.annotate(day=TruncDate("received_at", tzinfo=zone))
            for member_id, day, listed in listed_by_day.values_list(
                "member_id", "day", "categories"
            ):
                self.categories[(member_id, day)].update(listed)

    def campaigns(self) -> list[Campaign]:
        if self._campaigns is None:
            days = list(self.days.values())
            self._campaigns = list(
                Campaign.objects.filter(
                    active=True, starts_on__lte=max(days), ends_on__gte=min(days)
                ).prefetch_related("tiers")
            )
        return self._campaigns

    def tier_id(self, account: _Held) -> int | None:
        if account.tier_id is not None:
            return account.tier_id
        if self._base_tier is None:
            tier = base_tier()
            self._base_tier = (tier.pk if tier else None,)
        return self._base_tier[0]

    def room(self, rule: EarningRule, member_id: int, day: date) -> int | None:
        if rule.cap is None:
            return None
        used = self.used[(member_id, _cap_key(rule), _period_start(rule, day))]
        return max(rule.cap - used, 0)

    def use(self, rule: EarningRule, member_id: int, day: date, points: int) -> None:
        if rule.cap is not None:
            self.used[(member_id, _cap_key(rule), _period_start(rule, day))] += points


def _receive_run(*, api_key: ApiKey, events: list[Received]) -> list[Result]:
    results: dict[str, Result] = {}
    with transaction.atomic():
        run = _Run(api_key, events)
        accounts = run.lock_accounts()
        by_key = {e.key: e for e in events}
        stored = Event.objects.filter(api_key=api_key, key__in=list(by_key))
        for key, digest, response in stored.values_list("key", "body_hash", "response"):
            if digest != by_key[key].digest:
                results[key] = IdempotencyConflict(
                    _("Event %(key)s was already received with a different body.") % {"key": key}
                )
            else:
                results[key] = Outcome(response, False)
        fresh = [e for e in events if e.key not in results]
        taken = set(
            Order.objects.filter(number__in=[e.number for e in fresh]).values_list(
                "number", flat=True
            )
        )
        applied: list[Received] = []
        for e in fresh:
            if e.number in taken:
                results[e.key] = OrderExists(
                    _("Order %(number)s was already received.") % {"number": e.number}
                )
            else:
                taken.add(e.number)  # a second event with this number in the run is refused
                applied.append(e)
        run.load_usage(applied)
        plans = [_plan(run, accounts[e.member_id], e) for e in applied]
        if applied:
            _write(api_key, applied, plans)
        for e, (_entries, answer) in zip(applied, plans, strict=True):
            results[e.key] = Outcome(answer, True)
    return [results[e.key] for e in events]


@dataclass(slots=True)
class _Held:
    """A locked account, as the plan uses it (the balance moves as entries are planned)."""

    member_id: int
    balance: int
    tier_id: int | None


@dataclass(slots=True)
class _Planned:
    """A planned earning: the fields of its `PointEntry` (a plain object: building model
    instances cost a fifth of a batch's Python time; the ORM path makes them at write)."""

    member_id: int
    points: int
    occurred_at: datetime
    api_key_id: int
    reason: str
    rule_id: int | None = None
    campaign_id: int | None = None
    kind: str = Kind.EARN

    def entry(self, *, event_id: int, order_id: int) -> PointEntry:
        return PointEntry(
            member_id=self.member_id,
            kind=self.kind,
            points=self.points,
            occurred_at=self.occurred_at,
            qualifying_at=self.occurred_at,
            api_key_id=self.api_key_id,
            reason=self.reason,
            rule_id=self.rule_id,
            campaign_id=self.campaign_id,
            event_id=event_id,
            order_id=order_id,
        )


_Entry = tuple[_Planned, int]  # the planned entry and the debt its lot repays


def _credit(account: _Held, run: _Run, event: Received, **fields: Any) -> _Entry:
    points = fields["points"]
    debt = max(-account.balance, 0)
    entry = _Planned(
        member_id=event.member_id,
        occurred_at=event.occurred_at,
        api_key_id=run.api_key.pk,
        **{**fields, "reason": fields["reason"][:255]},
    )
    account.balance += points
    return entry, min(points, debt) if points > 0 else 0


def _plan(run: _Run, account: _Held, e: Received) -> tuple[list[_Entry], dict[str, Any]]:
    """The entries of one order and the answer, as `order_receive` makes them."""
    day = run.days[e.key]
    rule = run.rule
    entries: list[_Entry] = []
    min_amount = rule.min_amount if rule else None
    prior = set(run.categories[(e.member_id, day)])
    if min_amount is None or e.amount >= min_amount:
        run.categories[(e.member_id, day)].update(e.categories)
    if rule is not None:
        qualifies = min_amount is None or e.amount >= min_amount
        if not qualifies:
            reason = below_minimum_reason(e.number, min_amount, e.currency)
            entries.append(_credit(account, run, e, points=0, reason=reason, rule_id=rule.pk))
        else:
            entries.extend(_shopping(run, account, e, rule, day, prior))
    answer = {
        "id": e.key,
        "type": "order.received",
        "member": e.member_number,
        "points": sum(entry.points for entry, _repay in entries),
        "entries": [
            {"points": entry.points, "kind": entry.kind, "reason": entry.reason}
            for entry, _repay in entries
        ],
        "balance": account.balance,
    }
    return entries, answer


def _by_rule(
    run: _Run, account: _Held, e: Received, rule: EarningRule, day: date, wanted: int, what: str
) -> _Entry:
    room = run.room(rule, e.member_id, day)
    granted = wanted if room is None else min(wanted, room)
    run.use(rule, e.member_id, day, granted)
    reason = earn_reason(rule, granted=granted, wanted=wanted, what=what)
    return _credit(account, run, e, points=granted, reason=reason, rule_id=rule.pk)


def _shopping(
    run: _Run, account: _Held, e: Received, rule: EarningRule, day: date, prior: set[str]
) -> list[_Entry]:
    what = _("order %(number)s") % {"number": e.number}
    shopping = _by_rule(run, account, e, rule, day, rule.points, what)
    entries = [shopping]
    bonus_rule = run.bonus_rule
    if bonus_rule is not None:
        before = max(len(prior) - 1, 0)
        after = max(len(prior | set(e.categories)) - 1, 0)
        if after > before:
            what = category_bonus_what(after - before, e.occurred_at, e.number)
            wanted = (after - before) * bonus_rule.points
            entries.append(_by_rule(run, account, e, bonus_rule, day, wanted, what))
    base = shopping[0].points
    if base:
        tier_known, tier_id = False, None
        for campaign in run.campaigns():
            if not campaign.starts_on <= day <= campaign.ends_on:
                continue
            tier_ids = {t.pk for t in campaign.tiers.all()}
            if tier_ids:
                if not tier_known:
                    tier_id, tier_known = run.tier_id(account), True
                if tier_id not in tier_ids:
                    continue
            bonus = campaign_bonus(campaign, base=base, categories=e.categories)
            if bonus > 0:
                reason = campaign_reason(bonus, campaign, e.number)
                entries.append(
                    _credit(account, run, e, points=bonus, reason=reason, campaign_id=campaign.pk)
                )
    return entries


def _write(
    api_key: ApiKey,
    applied: list[Received],
    plans: list[tuple[list[_Entry], dict[str, Any]]],
) -> None:
    """The run's rows and the balances, all in one statement (`_write_postgresql`).

    Events go in by event id and orders by order number, so that concurrent runs meet on the
    unique indexes in one order and cannot deadlock there."""
    _write_postgresql(api_key, applied, plans)
    # As the one-by-one path does: a tier check after commit (a no-op unless switched on).
    earned = {
        e.member_id
        for e, (planned, _a) in zip(applied, plans, strict=True)
        for entry, _r in planned
        if entry.points > 0
    }
    for member_id in sorted(earned):
        tiers_instant_upgrade_schedule(member_id=member_id)


def _deltas(
    applied: list[Received], plans: list[tuple[list[_Entry], dict[str, Any]]]
) -> dict[int, int]:
    deltas: dict[int, int] = defaultdict(int)
    for e, (planned, _answer) in zip(applied, plans, strict=True):
        for entry, _repay in planned:
            deltas[e.member_id] += entry.points
    return {member_id: delta for member_id, delta in deltas.items() if delta}


WRITE_SQL = """
WITH ev AS (
    INSERT INTO loyalty_event (api_key_id, key, type, member_id, body_hash, response, received_at)
    SELECT %(api_key)s, r.key, 'order.received', r.member_id, r.body_hash, r.response, now()
    FROM jsonb_to_recordset(%(events)s::jsonb)
        AS r(key text, member_id bigint, body_hash text, response jsonb)
    ORDER BY r.key
    RETURNING id, key
), od AS (
    INSERT INTO loyalty_order
        (number, member_id, amount, currency, categories, received_at, returned_amount, fraud)
    SELECT r.number, r.member_id, r.amount, r.currency, r.categories, r.received_at, 0, false
    FROM jsonb_to_recordset(%(orders)s::jsonb) AS r(
        number text, member_id bigint, amount numeric, currency text, categories jsonb,
        received_at timestamptz
    )
    ORDER BY r.number
    RETURNING id, number
), en AS MATERIALIZED (
    SELECT r.*, nextval(pg_get_serial_sequence('loyalty_pointentry', 'id')) AS id
    FROM jsonb_to_recordset(%(entries)s::jsonb) AS r(
        event_key text, order_number text, member_id bigint, points integer,
        occurred_at timestamptz, reason text, rule_id bigint, campaign_id bigint,
        repay integer, expires_on date, ord bigint
    )
), entry_rows AS (
    INSERT INTO loyalty_pointentry
        (id, member_id, kind, points, occurred_at, qualifying_at, created_at, reason,
         api_key_id, event_id, rule_id, campaign_id, order_id)
    SELECT en.id, en.member_id, 'earn', en.points, en.occurred_at, en.occurred_at, now(),
           en.reason, %(api_key)s, ev.id, en.rule_id, en.campaign_id, od.id
    FROM en JOIN ev ON ev.key = en.event_key JOIN od ON od.number = en.order_number
    ORDER BY en.ord
    RETURNING id
), lot AS MATERIALIZED (
    SELECT en.*, nextval(pg_get_serial_sequence('loyalty_pointlot', 'id')) AS lot_id
    FROM en WHERE en.points > 0 ORDER BY en.ord
), lot_rows AS (
    INSERT INTO loyalty_pointlot (id, member_id, entry_id, points, remaining, expires_on)
    SELECT lot.lot_id, lot.member_id, lot.id, lot.points, lot.points - lot.repay, lot.expires_on
    FROM lot ORDER BY lot.ord
    RETURNING id
), allocation_rows AS (
    INSERT INTO loyalty_lotallocation (lot_id, entry_id, points)
    SELECT lot.lot_id, lot.id, -lot.repay FROM lot WHERE lot.repay > 0 ORDER BY lot.ord
    RETURNING id
), balance_rows AS (
    UPDATE loyalty_account a SET balance = a.balance + d.delta
    FROM jsonb_to_recordset(%(deltas)s::jsonb) AS d(member_id bigint, delta integer)
    WHERE a.member_id = d.member_id
    RETURNING a.member_id
)
SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM od), (SELECT count(*) FROM entry_rows),
       (SELECT count(*) FROM lot_rows), (SELECT count(*) FROM allocation_rows),
       (SELECT count(*) FROM balance_rows)
"""


def _write_postgresql(
    api_key: ApiKey,
    applied: list[Received],
    plans: list[tuple[list[_Entry], dict[str, Any]]],
) -> None:
    """Every row of the run in one statement: the rows travel as JSON, the entries and lots
    take their ids from their sequences in plan order, foreign keys are checked at commit."""
    events = [
        {"key": e.key, "member_id": e.member_id, "body_hash": e.digest, "response": answer}
        for e, (_planned, answer) in zip(applied, plans, strict=True)
    ]
    orders = [
        {
            "number": e.number,
            "member_id": e.member_id,
            "amount": str(e.amount),
            "currency": e.currency,
            "categories": e.categories,
            "received_at": e.occurred_at.isoformat(),
        }
        for e in applied
    ]
    entries: list[dict[str, Any]] = []
    for e, (planned, _answer) in zip(applied, plans, strict=True):
        expires_on = lot_expiry(local_date(e.occurred_at))
        for entry, repay in planned:
            entries.append(
                {
                    "ord": len(entries),
                    "event_key": e.key,
                    "order_number": e.number,
                    "member_id": e.member_id,
                    "points": entry.points,
                    "occurred_at": e.occurred_at.isoformat(),
                    "reason": entry.reason,
                    "rule_id": entry.rule_id,
                    "campaign_id": entry.campaign_id,
                    "repay": repay,
                    "expires_on": expires_on.isoformat() if expires_on else None,
                }
            )
    deltas = [{"member_id": m, "delta": d} for m, d in _deltas(applied, plans).items()]
    with connection.cursor() as cursor:
        # Every row written is one of these members': one page-version bump for them after
        # the write instead of the member triggers' four upserts of them all (orders,
        # entries, lots, balances; members.page_versions.PG_DEFERRED_SETTING). An error rolls
        # the setting back with the rows (the caller's transaction).
        cursor.execute("SELECT set_config(%s, 'on', true)", [PG_DEFERRED_SETTING])
        cursor.execute(
            WRITE_SQL,
            {
                "api_key": api_key.pk,
                "events": json.dumps(events),
                "orders": json.dumps(orders),
                "entries": json.dumps(entries),
                "deltas": json.dumps(deltas),
            },
        )
        counts = cursor.fetchone()
        cursor.execute(
            "SELECT set_config(%s, '', true), members_pageversion_bump(%s::bigint[])",
            [PG_DEFERRED_SETTING, sorted({e.member_id for e in applied})],
        )
    assert counts[0] == counts[1] == len(applied) and counts[2] == len(entries), counts
