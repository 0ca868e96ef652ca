"""The earning rules, written once: a pure planner over a snapshot of the members' state.

`plan(snapshot, events)` decides everything an earning event does: which member it is for,
whether it is a replay (or a conflict) of an event already received, the order or contribution
it records, the points of each rule (the minimum amount, the daily and monthly caps and the
shared cap groups, counted net of reversals, the same-day category bonus, the campaigns by
window, tier and category, their multipliers and flat bonuses), the reasons, the lots and the
debt they repay, the balance after each event, the answer, and which members earned (for the
instant-upgrade check). It reads nothing but its arguments and writes nothing: the I/O around it
(`loyalty.earning.store`) reads the snapshot under the members' account locks and writes the
plan, mechanically. Single events, batches and the member-center visit all come through here.

`reads(program, events)` says what the snapshot must hold for `events` (which rules' usage, over
which window; the orders of which days), so that the I/O needs no rule either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from core.clock import day_bounds, local_date, month_bounds
from loyalty.earning.models import Contribution
from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import LedgerError
from loyalty.program.expiry import lot_expiry
from loyalty.program.models import EarningRule, Program

Rule = EarningRule.Kind
EARN = PointEntry.Kind.EARN.value
REASON_LENGTH = 255


# --- Refusals (LedgerError: `code` is the API's stable code) ---------------------------------
class MemberNotFound(LedgerError):
    code = "member_not_found"
    status = 404


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"
    status = 409


class OrderExists(LedgerError):
    code = "order_already_received"
    status = 409


class ReviewExists(LedgerError):
    code = "review_already_received"
    status = 409


class PostExists(LedgerError):
    code = "post_already_received"
    status = 409


class EventInvalid(LedgerError):
    """The event is well-formed but the program does not take it: `fields` as the API's
    field errors (another currency, older than the back-dating limit)."""

    code = "invalid"
    status = 400

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__(_("Some fields are invalid."))
        self.fields = fields


def event_admissible(
    program: Program, *, now: datetime, occurred_at: datetime, currency: str | None = None
) -> EventInvalid | None:
    """The program's terms for any event the shop reports: not older than the back-dating
    limit, and an order in the program's currency."""
    fields: dict[str, Any] = {}
    if occurred_at < now - timedelta(days=program.backdating_days):
        fields["occurred_at"] = [
            _("Events older than %(days)d days are not accepted.")
            % {"days": program.backdating_days}
        ]
    if currency is not None and currency.upper() != program.currency:
        fields["order"] = {
            "currency": [_("Only %(currency)s is accepted.") % {"currency": program.currency}]
        }
    return EventInvalid(fields) if fields else None


@dataclass(frozen=True)
class Outcome:
    """An event's answer; `created` is False for a replay (the stored answer)."""

    answer: dict[str, Any]
    created: bool


# --- The program, as the rules read it ---------------------------------------------------------
@dataclass(frozen=True)
class CampaignState:
    id: int
    name: str
    starts_on: date
    ends_on: date
    multiplier: Decimal | None
    bonus_points: int | None
    categories: frozenset[str]  # normalised (core.text); empty: every order
    tier_ids: frozenset[int]  # empty: every tier


@dataclass(frozen=True)
class ProgramState:
    """The settings, rules and campaigns one plan uses (loyalty.earning.program builds it)."""

    version: int  # the program's page version it was read under
    settings: Program
    rules: dict[int, EarningRule]  # every rule, by id (cap groups span inactive ones too)
    campaigns: tuple[CampaignState, ...]  # the active ones, in Campaign.Meta.ordering
    base_tier_id: int | None
    tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _active: dict[str, EarningRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # derived once: a plan asks for them many times
        object.__setattr__(self, "tz", ZoneInfo(self.settings.time_zone))
        active = {r.kind: r for r in self.rules.values() if r.active}
        object.__setattr__(self, "_active", active)

    def rule(self, kind: str) -> EarningRule | None:
        """The active rule of `kind` (`kind` is unique)."""
        return self._active.get(kind)


# --- Events -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderReceived:
    """A shop's `order.received`. `categories` are normalised (core.text.categories)."""

    key: str
    member_number: str
    occurred_at: datetime
    number: str
    amount: Decimal
    currency: str
    categories: tuple[str, ...]
    digest: str
    type: str = "order.received"


@dataclass(frozen=True)
class ContributionPosted:
    """A shop's `review.posted` (kind review, with the product) or `club.posted`."""

    type: str
    key: str
    member_number: str
    occurred_at: datetime
    ref: str
    product: str
    digest: str

    @property
    def kind(self) -> str:
        return (
            Contribution.Kind.REVIEW
            if self.type == "review.posted"
            else Contribution.Kind.CLUB_POST
        )


@dataclass(frozen=True)
class VisitMade:
    """A member opened the member center on `day` (program-local); no API key, no event."""

    member_id: int
    day: date
    occurred_at: datetime


EarningEvent = OrderReceived | ContributionPosted | VisitMade
CONTRIBUTION_RULES: dict[str, str] = {
    Contribution.Kind.REVIEW: Rule.REVIEW,
    Contribution.Kind.CLUB_POST: Rule.CLUB_POST,
}


# --- The snapshot: what the database says, read under the account locks -----------------------
@dataclass(frozen=True)
class Stored:
    body_hash: str
    response: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """A member's earnings by one rule on one program-local day, and their reversals (<= 0)."""

    member_id: int
    rule_id: int
    day: date
    points: int
    reversed: int


@dataclass(frozen=True)
class DayOrder:
    member_id: int
    day: date
    amount: Decimal
    categories: tuple[str, ...]
    fraud: bool


@dataclass(frozen=True)
class Held:
    balance: int
    tier_id: int | None


@dataclass(frozen=True)
class Snapshot:
    program: ProgramState
    now: datetime  # when it was read
    api_key_id: int | None
    key_active: bool  # the API key, as of the locks (a revoked key applies nothing)
    members: dict[str, int]  # member number -> id, active members only
    accounts: dict[int, Held]  # locked
    stored: dict[str, Stored]  # event id -> what was stored under this API key
    orders_taken: frozenset[str]
    contributions_taken: frozenset[tuple[str, str]]
    visits_taken: frozenset[tuple[int, date]]
    usage: tuple[Usage, ...]
    day_orders: tuple[DayOrder, ...]


@dataclass(frozen=True)
class Reads:
    """What a snapshot must hold for a run of events (computed by `reads`)."""

    usage_rule_ids: tuple[int, ...]
    usage_window: tuple[datetime, datetime] | None
    orders_window: tuple[datetime, datetime] | None


def _capped_rules(program: ProgramState, events: Sequence[EarningEvent]) -> list[EarningRule]:
    kinds: set[str] = set()
    for event in events:
        if isinstance(event, OrderReceived):
            kinds.update((Rule.SHOPPING, Rule.CATEGORY_BONUS))
        elif isinstance(event, ContributionPosted):
            kinds.add(CONTRIBUTION_RULES[event.kind])
        else:
            kinds.add(Rule.VISIT)
    rules = [program.rule(kind) for kind in sorted(kinds)]
    return [r for r in rules if r is not None and r.cap is not None]


def _period(rule: EarningRule, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if rule.cap_period == EarningRule.Period.DAY:
        return day_bounds(day, tz)
    return month_bounds(day, tz)


def _shares_cap(rule: EarningRule, other: EarningRule) -> bool:
    """Whether `other`'s earnings count against `rule`'s cap (its own, or its cap group's)."""
    return other.cap_group == rule.cap_group if rule.cap_group else other.pk == rule.pk


def _day(event: EarningEvent, tz: ZoneInfo) -> date:
    return event.day if isinstance(event, VisitMade) else local_date(event.occurred_at, tz)


def reads(program: ProgramState, events: Sequence[EarningEvent]) -> Reads:
    tz = program.tz
    capped = _capped_rules(program, events)
    rule_ids: set[int] = set()
    bounds: list[tuple[datetime, datetime]] = []
    for rule in capped:
        rule_ids.update(pk for pk, other in program.rules.items() if _shares_cap(rule, other))
        bounds.extend(_period(rule, _day(e, tz), tz) for e in events)
    usage = (min(b[0] for b in bounds), max(b[1] for b in bounds)) if bounds else None
    orders = [e for e in events if isinstance(e, OrderReceived)]
    needs_days = (
        program.rule(Rule.SHOPPING) is not None and program.rule(Rule.CATEGORY_BONUS) is not None
    )
    window = None
    if orders and needs_days:
        days = [day_bounds(local_date(e.occurred_at, tz), tz) for e in orders]
        window = (min(d[0] for d in days), max(d[1] for d in days))
    return Reads(tuple(sorted(rule_ids)), usage, window)


# --- The plan: the rows to write and the answers ------------------------------------------------
@dataclass
class EntryRow:
    member_id: int
    points: int
    occurred_at: datetime
    reason: str
    rule_id: int | None
    campaign_id: int | None
    event_key: str | None
    order_number: str | None
    repay: int  # the debt this entry's lot repays (0 without a lot)
    expires_on: date | None


@dataclass
class EventRow:
    key: str
    type: str
    member_id: int
    body_hash: str
    response: dict[str, Any]


@dataclass
class OrderRow:
    number: str
    member_id: int
    amount: Decimal
    currency: str
    categories: list[str]
    received_at: datetime


@dataclass
class ContributionRow:
    kind: str
    ref: str
    member_id: int
    posted_at: datetime


@dataclass
class VisitRow:
    member_id: int
    day: date


Result = Outcome | LedgerError | None  # None: a visit already recorded (nothing to do)


@dataclass
class Plan:
    results: list[Result] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    contributions: list[ContributionRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)
    entries: list[EntryRow] = field(default_factory=list)
    deltas: dict[int, int] = field(default_factory=dict)  # balance changes by member
    earned: set[int] = field(default_factory=set)  # members who earned points

    @property
    def writes(self) -> bool:
        return bool(self.events or self.orders or self.contributions or self.visits)

    @property
    def members(self) -> list[int]:
        """Every member a row of the plan belongs to."""
        rows: list[Any] = [*self.events, *self.orders, *self.contributions, *self.visits]
        return sorted({r.member_id for r in rows})


# --- The reasons (msgids shared with loyalty.reasons) -------------------------------------------
def earn_reason(rule: EarningRule, *, granted: int, wanted: int, what: str) -> str:
    """The reason of an earning by `rule`: the points for `what`, or the cap that cut them."""
    if granted == wanted:
        if granted == 1:
            return _("1 point for %(what)s") % {"what": what}
        return _("%(points)d points for %(what)s") % {"points": granted, "what": what}
    if granted == 0:
        return _("%(cap)s reached: 0 points") % {"cap": rule.cap_label}
    return _("%(points)d points for %(what)s (%(cap)s reached)") % {
        "points": granted,
        "what": what,
        "cap": rule.cap_label,
    }


def below_minimum_reason(number: str, minimum: Decimal, currency: str) -> str:
    return _("order %(number)s is below the minimum of %(min)s %(currency)s: 0 points") % {
        "number": number,
        "min": minimum,
        "currency": currency,
    }


def campaign_reason(points: int, campaign: CampaignState, number: str) -> str:
    return _("%(points)d bonus points: %(campaign)s (order %(order)s)") % {
        "points": points,
        "campaign": campaign.name,
        "order": number,
    }


def category_bonus_what(n: int, day: date, number: str) -> str:
    return _("%(n)d more categories on %(day)s (order %(number)s)") % {
        "n": n,
        "day": day.isoformat(),
        "number": number,
    }


def campaign_bonus(campaign: CampaignState, *, base: int, categories: Sequence[str]) -> int:
    """The bonus `campaign` adds to an order's `base` shopping points (tiers checked apart)."""
    if campaign.categories and not campaign.categories.intersection(categories):
        return 0
    if campaign.multiplier is not None:
        return int((base * (campaign.multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR))
    return campaign.bonus_points or 0


# --- Planning -----------------------------------------------------------------------------------
class _Run:
    """The members' state as the run goes: balances, cap usage, each day's categories, and
    what the run itself has taken (event ids, order numbers, contributions, visits)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.program = snapshot.program
        self.tz = snapshot.program.tz
        self.balances = {m: held.balance for m, held in snapshot.accounts.items()}
        self.used: dict[tuple[int, str, datetime], int] = defaultdict(int)
        self.categories: dict[tuple[int, date], set[str]] = defaultdict(set)
        self.keys: dict[str, tuple[str, Outcome]] = {}  # event id -> (digest, outcome)
        self.orders = set(snapshot.orders_taken)
        self.contributions = set(snapshot.contributions_taken)
        self.visits = set(snapshot.visits_taken)
        shopping = self.program.rule(Rule.SHOPPING)
        self.minimum = shopping.min_amount if shopping else None
        rules = self.program.rules
        for row in snapshot.usage:
            other = rules.get(row.rule_id)
            if other is None:
                continue
            buckets = {
                self._bucket(rule, row.member_id, row.day)
                for rule in rules.values()
                if rule.cap is not None and _shares_cap(rule, other)
            }
            for bucket in buckets:  # a cap group's rules share one bucket: counted once
                self.used[bucket] += row.points + row.reversed  # net of reversals
        for order in snapshot.day_orders:
            if self._counts(order.amount) and not order.fraud:
                self.categories[(order.member_id, order.day)].update(order.categories)

    def _bucket(self, rule: EarningRule, member_id: int, day: date) -> tuple[int, str, datetime]:
        group = f"group:{rule.cap_group}" if rule.cap_group else f"rule:{rule.pk}"
        return member_id, group, _period(rule, day, self.tz)[0]

    def _counts(self, amount: Decimal) -> bool:
        """Whether an order of `amount` counts for the day's categories (and earns)."""
        return self.minimum is None or amount >= self.minimum

    def room(self, rule: EarningRule, member_id: int, day: date) -> int | None:
        if rule.cap is None:
            return None
        return max(rule.cap - self.used[self._bucket(rule, member_id, day)], 0)

    def use(self, rule: EarningRule, member_id: int, day: date, points: int) -> None:
        """Count `points` granted by `rule` in every cap they count against, as the snapshot's
        usage is counted: each capped rule that shares a cap with `rule` (its own, and its
        group's even where a rule of the group has another period or no cap)."""
        buckets = {
            self._bucket(other, member_id, day)
            for other in self.program.rules.values()
            if other.cap is not None and _shares_cap(other, rule)
        }
        for bucket in buckets:
            self.used[bucket] += points

    def tier_id(self, member_id: int) -> int | None:
        held = self.snapshot.accounts.get(member_id)
        tier_id = held.tier_id if held is not None else None
        return tier_id if tier_id is not None else self.program.base_tier_id


@dataclass
class _Event:
    """One event being planned: its member, day and entries so far."""

    member_id: int
    day: date
    occurred_at: datetime
    key: str | None
    order_number: str | None
    entries: list[EntryRow] = field(default_factory=list)


def _credit(
    run: _Run,
    plan: Plan,
    event: _Event,
    *,
    points: int,
    reason: str,
    rule_id: int | None = None,
    campaign_id: int | None = None,
) -> EntryRow:
    """An earning of `points`: its lot repays the member's debt first."""
    balance = run.balances.get(event.member_id, 0)
    repay = min(points, max(-balance, 0)) if points > 0 else 0
    entry = EntryRow(
        member_id=event.member_id,
        points=points,
        occurred_at=event.occurred_at,
        reason=reason[:REASON_LENGTH],
        rule_id=rule_id,
        campaign_id=campaign_id,
        event_key=event.key,
        order_number=event.order_number,
        repay=repay,
        expires_on=(
            lot_expiry(local_date(event.occurred_at, run.tz), run.program.settings)
            if points > 0
            else None
        ),
    )
    run.balances[event.member_id] = balance + points
    if points:
        plan.deltas[event.member_id] = plan.deltas.get(event.member_id, 0) + points
    if points > 0:
        plan.earned.add(event.member_id)
    event.entries.append(entry)
    plan.entries.append(entry)
    return entry


def _by_rule(
    run: _Run, plan: Plan, event: _Event, rule: EarningRule, wanted: int, what: str
) -> EntryRow:
    """`wanted` points for `what`, cut to the rule's cap; a capped event is still recorded, with
    0 points and the reason."""
    room = run.room(rule, event.member_id, event.day)
    granted = wanted if room is None else min(wanted, room)
    run.use(rule, event.member_id, event.day, granted)
    reason = earn_reason(rule, granted=granted, wanted=wanted, what=what)
    return _credit(run, plan, event, points=granted, reason=reason, rule_id=rule.pk)


def _order_received(run: _Run, plan: Plan, event: _Event, order: OrderReceived) -> None:
    program = run.program
    rule = program.rule(Rule.SHOPPING)
    prior = set(run.categories[(event.member_id, event.day)])
    if run._counts(order.amount):
        run.categories[(event.member_id, event.day)].update(order.categories)
    plan.orders.append(
        OrderRow(
            number=order.number,
            member_id=event.member_id,
            amount=order.amount,
            currency=order.currency.upper(),
            categories=list(order.categories),
            received_at=order.occurred_at,
        )
    )
    if rule is None:
        return
    if not run._counts(order.amount):
        assert rule.min_amount is not None
        reason = below_minimum_reason(order.number, rule.min_amount, order.currency)
        _credit(run, plan, event, points=0, reason=reason, rule_id=rule.pk)
        return
    what = _("order %(number)s") % {"number": order.number}
    shopping = _by_rule(run, plan, event, rule, rule.points, what)
    bonus_rule = program.rule(Rule.CATEGORY_BONUS)
    if bonus_rule is not None:
        before = max(len(prior) - 1, 0)
        after = max(len(prior | set(order.categories)) - 1, 0)
        if after > before:
            what = category_bonus_what(after - before, event.day, order.number)
            _by_rule(run, plan, event, bonus_rule, (after - before) * bonus_rule.points, what)
    base = shopping.points
    if not base:
        return
    for campaign in program.campaigns:
        if not campaign.starts_on <= event.day <= campaign.ends_on:
            continue
        if campaign.tier_ids and run.tier_id(event.member_id) not in campaign.tier_ids:
            continue
        bonus = campaign_bonus(campaign, base=base, categories=order.categories)
        if bonus > 0:
            reason = campaign_reason(bonus, campaign, order.number)
            _credit(run, plan, event, points=bonus, reason=reason, campaign_id=campaign.id)


def _contribution(run: _Run, plan: Plan, event: _Event, posted: ContributionPosted) -> None:
    plan.contributions.append(
        ContributionRow(
            kind=posted.kind,
            ref=posted.ref,
            member_id=event.member_id,
            posted_at=posted.occurred_at,
        )
    )
    rule = run.program.rule(CONTRIBUTION_RULES[posted.kind])
    if rule is None:
        return
    if posted.kind == Contribution.Kind.REVIEW:
        what = _("a review of product %(product)s") % {"product": posted.product}
    else:
        what = _("club post %(post)s") % {"post": posted.ref}
    _by_rule(run, plan, event, rule, rule.points, what)


def _refusal(run: _Run, event: OrderReceived | ContributionPosted) -> LedgerError | None:
    if isinstance(event, OrderReceived):
        if event.number in run.orders:
            return OrderExists(
                _("Order %(number)s was already received.") % {"number": event.number}
            )
        return None
    if (event.kind, event.ref) in run.contributions:
        if event.kind == Contribution.Kind.REVIEW:
            return ReviewExists(_("Review %(id)s was already received.") % {"id": event.ref})
        return PostExists(_("Club post %(id)s was already received.") % {"id": event.ref})
    return None


def _replay(stored_hash: str, digest: str, key: str, answer: dict[str, Any]) -> Result:
    if stored_hash != digest:
        return IdempotencyConflict(
            _("Event %(key)s was already received with a different body.") % {"key": key}
        )
    return Outcome(answer, False)


def _shop_event(run: _Run, plan: Plan, event: OrderReceived | ContributionPosted) -> Result:
    invalid = event_admissible(
        run.program.settings,
        now=run.snapshot.now,
        occurred_at=event.occurred_at,
        currency=event.currency if isinstance(event, OrderReceived) else None,
    )
    if invalid is not None:
        return invalid
    member_id = run.snapshot.members.get(event.member_number)
    if member_id is None:
        return MemberNotFound(_("No member with this number."))
    if event.key in run.keys:  # earlier in this run
        digest, outcome = run.keys[event.key]
        return _replay(digest, event.digest, event.key, outcome.answer)
    stored = run.snapshot.stored.get(event.key)
    if stored is not None:
        return _replay(stored.body_hash, event.digest, event.key, stored.response)
    refused = _refusal(run, event)
    if refused is not None:
        return refused
    current = _Event(
        member_id=member_id,
        day=local_date(event.occurred_at, run.tz),
        occurred_at=event.occurred_at,
        key=event.key,
        order_number=event.number if isinstance(event, OrderReceived) else None,
    )
    if isinstance(event, OrderReceived):
        run.orders.add(event.number)
        _order_received(run, plan, current, event)
    else:
        run.contributions.add((event.kind, event.ref))
        _contribution(run, plan, current, event)
    answer = {
        "id": event.key,
        "type": event.type,
        "member": event.member_number,
        "points": sum(e.points for e in current.entries),
        "entries": [
            {"points": e.points, "kind": EARN, "reason": e.reason} for e in current.entries
        ],
        "balance": run.balances.get(member_id, 0),
    }
    plan.events.append(EventRow(event.key, event.type, member_id, event.digest, answer))
    outcome = Outcome(answer, True)
    run.keys[event.key] = (event.digest, outcome)
    return outcome


def _visit(run: _Run, plan: Plan, visit: VisitMade) -> Result:
    if (visit.member_id, visit.day) in run.visits or visit.member_id not in run.balances:
        return None
    run.visits.add((visit.member_id, visit.day))
    plan.visits.append(VisitRow(visit.member_id, visit.day))
    rule = run.program.rule(Rule.VISIT)
    if rule is None:
        return None
    current = _Event(visit.member_id, visit.day, visit.occurred_at, None, None)
    what = _("your visit on %(day)s") % {"day": visit.day.isoformat()}
    entry = _by_rule(run, plan, current, rule, rule.points, what)
    answer = {
        "points": entry.points,
        "entries": [{"points": entry.points, "kind": EARN, "reason": entry.reason}],
        "balance": run.balances[visit.member_id],
    }
    return Outcome(answer, True)


def plan(snapshot: Snapshot, events: Sequence[EarningEvent]) -> Plan:
    """The plan of `events`, applied in order to `snapshot`'s state: one result per event."""
    run = _Run(snapshot)
    result = Plan()
    for event in events:
        if isinstance(event, VisitMade):
            result.results.append(_visit(run, result, event))
        else:
            result.results.append(_shop_event(run, result, event))
    return result
