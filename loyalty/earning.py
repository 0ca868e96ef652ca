"""The earning rules applied to what members do, and the events the shop reports.

`event_ingest` is the one entry point for an event: it records the event under its unique
(API key, event id), applies it whole under the member's account lock, and stores the answer
so that a replay gets the same answer without writing anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from .clock import day_bounds, local_date, month_bounds, program_today
from .models import (
    Account,
    Campaign,
    Contribution,
    EarningRule,
    Event,
    Order,
    PointEntry,
    Program,
    Visit,
)
from .selectors import base_tier
from .services import (
    Kind,
    LedgerError,
    Source,
    _credit,
    _debit,
    _reverse,
    account_lock,
    visit_record,
)

if TYPE_CHECKING:
    from members.models import ApiKey

Rule = EarningRule.Kind


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"
    status = 409


class OrderNotFound(LedgerError):
    code = "order_not_found"
    status = 422


class OrderExists(LedgerError):
    code = "order_already_received"
    status = 409


class ReviewExists(LedgerError):
    code = "review_already_received"
    status = 409


class PostExists(LedgerError):
    code = "post_already_received"
    status = 409


def body_hash(body: Any) -> str:
    """A stable hash of a JSON body (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def rule_for(kind: str) -> EarningRule | None:
    return EarningRule.objects.filter(kind=kind, active=True).first()


# --- rules ---------------------------------------------------------------------------------


def _cap_room(account: Account, rule: EarningRule, occurred_at: datetime) -> int | None:
    """Points the rule may still give in its cap period (program-local), None: no cap.
    Exact because the caller holds the account lock."""
    if rule.cap is None:
        return None
    day = local_date(occurred_at)
    if rule.cap_period == EarningRule.Period.DAY:
        start, end = day_bounds(day)
    else:
        start, end = month_bounds(day)
    return max(rule.cap - cap_used(account.member_id, rule, start, end), 0)


def reversed_points() -> Coalesce:
    """For an earning (the outer row): the points of its reversals (0 or negative)."""
    reversals = (
        PointEntry.objects.filter(reverses=OuterRef("pk"), kind=Kind.REVERSE)
        .order_by()
        .values("reverses")
        .annotate(s=Sum("points"))
        .values("s")
    )
    return Coalesce(Subquery(reversals, output_field=IntegerField()), Value(0))


def cap_used(member_id: int, rule: EarningRule, start: datetime, end: datetime) -> int:
    """Points the member holds from `rule`'s cap (its rule, or its cap group) for earnings in
    [start, end): NET of their reversals, so a returned or fraudulent order frees its room.

    Driven by the member's earnings in the period (a range of the member's history index),
    each with its reversals (the reverses index), as `loyalty_cap_room` in SQL: the cost does
    not grow with the member's history."""
    earning = Q(rule__cap_group=rule.cap_group) if rule.cap_group else Q(rule=rule)
    return (
        PointEntry.objects.filter(
            earning,
            member_id=member_id,
            kind=Kind.EARN,
            occurred_at__gte=start,
            occurred_at__lt=end,
        ).aggregate(s=Sum(F("points") + reversed_points()))["s"]
        or 0
    )


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


def below_minimum_reason(number: str, min_amount: Decimal | None, currency: str) -> str:
    return _("order %(number)s is below the minimum of %(min)s %(currency)s: 0 points") % {
        "number": number,
        "min": min_amount,
        "currency": currency,
    }


def campaign_reason(points: int, campaign: Campaign, number: str) -> str:
    return _("%(points)d bonus points: %(campaign)s (order %(order)s)") % {
        "points": points,
        "campaign": campaign.name,
        "order": number,
    }


def campaign_bonus(campaign: Campaign, *, base: int, categories: list[str]) -> int:
    """The bonus `campaign` adds to an order's `base` shopping points (tiers checked apart)."""
    wanted = campaign.category_list
    if wanted and not set(wanted) & set(categories):
        return 0
    if campaign.multiplier is not None:
        return int((base * (campaign.multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR))
    return campaign.bonus_points or 0


def category_bonus_what(n: int, occurred_at: datetime, number: str) -> str:
    return _("%(n)d more categories on %(day)s (order %(number)s)") % {
        "n": n,
        "day": local_date(occurred_at).isoformat(),
        "number": number,
    }


def _earn_by_rule(
    account: Account,
    rule: EarningRule,
    *,
    wanted: int,
    occurred_at: datetime,
    what: str,
    source: Source,
    order_id: int | None = None,
) -> PointEntry:
    """Credit `wanted` points for `what`, cut to the rule's cap; a capped event is still
    recorded, with 0 points and the reason."""
    room = _cap_room(account, rule, occurred_at)
    granted = wanted if room is None else min(wanted, room)
    return _credit(
        account,
        kind=Kind.EARN,
        points=granted,
        occurred_at=occurred_at,
        reason=earn_reason(rule, granted=granted, wanted=wanted, what=what),
        source=source,
        rule_id=rule.pk,
        order_id=order_id,
    )


def _member_tier_id(account: Account) -> int | None:
    if account.tier_id is not None:
        return account.tier_id
    tier = base_tier()
    return tier.pk if tier else None


def _campaign_bonuses(
    account: Account,
    order: Order,
    *,
    base: int,
    occurred_at: datetime,
    source: Source,
) -> list[PointEntry]:
    day = local_date(occurred_at)
    campaigns = Campaign.objects.filter(
        active=True, starts_on__lte=day, ends_on__gte=day
    ).prefetch_related("tiers")
    entries = []
    tier_id: int | None = None
    tier_known = False
    for campaign in campaigns:
        tier_ids = {t.pk for t in campaign.tiers.all()}
        if tier_ids:
            if not tier_known:
                tier_id, tier_known = _member_tier_id(account), True
            if tier_id not in tier_ids:
                continue
        bonus = campaign_bonus(campaign, base=base, categories=order.categories)
        if bonus <= 0:
            continue
        entries.append(
            _credit(
                account,
                kind=Kind.EARN,
                points=bonus,
                occurred_at=occurred_at,
                reason=campaign_reason(bonus, campaign, order.number),
                source=source,
                campaign_id=campaign.pk,
                order_id=order.pk,
            )
        )
    return entries


def _day_categories(account: Account, occurred_at: datetime, min_amount: Decimal | None) -> set:
    start, end = day_bounds(local_date(occurred_at))
    orders = Order.objects.filter(
        member_id=account.member_id, received_at__gte=start, received_at__lt=end, fraud=False
    )
    if min_amount is not None:
        orders = orders.filter(amount__gte=min_amount)
    categories: set[str] = set()
    for listed in orders.values_list("categories", flat=True):
        categories.update(listed)
    return categories


def order_receive(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    spec = data["order"]
    number = spec["number"]
    amount = Decimal(spec["amount"])
    categories = sorted({str(c).strip().lower() for c in spec.get("categories") or [] if c})
    rules = {
        r.kind: r
        for r in EarningRule.objects.filter(
            active=True, kind__in=[Rule.SHOPPING, Rule.CATEGORY_BONUS]
        )
    }
    rule = rules.get(Rule.SHOPPING)
    min_amount = rule.min_amount if rule else None
    qualifies = rule is not None and (min_amount is None or amount >= min_amount)
    bonus_rule = rules.get(Rule.CATEGORY_BONUS)
    # Without categories (or a bonus rule) the day's earlier categories cannot matter.
    counts = qualifies and bool(categories) and bonus_rule is not None
    prior_categories = _day_categories(account, occurred_at, min_amount) if counts else set()
    # The unique order number decides; its IntegrityError rolls the event back and
    # `event_ingest` answers `order_already_received` (no savepoint needed here).
    order = Order.objects.create(
        number=number,
        member_id=account.member_id,
        amount=amount,
        currency=spec["currency"],
        categories=categories,
        received_at=occurred_at,
    )
    entries: list[PointEntry] = []
    if rule is None:
        return entries
    what = _("order %(number)s") % {"number": number}
    if not qualifies:
        entries.append(
            _credit(
                account,
                kind=Kind.EARN,
                points=0,
                occurred_at=occurred_at,
                reason=below_minimum_reason(number, min_amount, spec["currency"]),
                source=source,
                rule_id=rule.pk,
                order_id=order.pk,
            )
        )
        return entries
    shopping = _earn_by_rule(
        account,
        rule,
        wanted=rule.points,
        occurred_at=occurred_at,
        what=what,
        source=source,
        order_id=order.pk,
    )
    entries.append(shopping)
    if bonus_rule is not None:
        before = max(len(prior_categories) - 1, 0)
        after = max(len(prior_categories | set(categories)) - 1, 0)
        if after > before:
            entries.append(
                _earn_by_rule(
                    account,
                    bonus_rule,
                    wanted=(after - before) * bonus_rule.points,
                    occurred_at=occurred_at,
                    what=category_bonus_what(after - before, occurred_at, number),
                    source=source,
                    order_id=order.pk,
                )
            )
    if shopping.points:
        entries.extend(
            _campaign_bonuses(
                account, order, base=shopping.points, occurred_at=occurred_at, source=source
            )
        )
    return entries


def _order_for(account: Account, number: str) -> Order:
    order = (
        Order.objects.select_for_update().filter(number=number, member_id=account.member_id).first()
    )
    if order is None:
        raise OrderNotFound(
            _("No order %(number)s was received for this member.") % {"number": number}
        )
    return order


def _reverse_order(
    account: Account,
    order: Order,
    *,
    share: Decimal,
    reason: str,
    occurred_at: datetime,
    source: Source,
) -> list[PointEntry]:
    """Reverse each of the order's earnings down to `share` (0..1) of it in total.

    Cumulative targets (floor(points * share) reversed in all) keep repeated partial returns
    exact: returning the whole order in parts reverses every point, never more."""
    earnings = list(order.entries.filter(kind=Kind.EARN, points__gt=0).order_by("id"))
    reversed_so_far = dict(
        PointEntry.objects.filter(reverses__in=earnings, kind=Kind.REVERSE)
        .values_list("reverses")
        .annotate(s=Sum("points"))
        .values_list("reverses", "s")
    )
    entries = []
    for earning in earnings:
        target = int((earning.points * share).to_integral_value(rounding=ROUND_FLOOR))
        delta = target + (reversed_so_far.get(earning.pk) or 0)
        if delta > 0:
            entries.append(
                _reverse(
                    account,
                    earning,
                    points=delta,
                    occurred_at=occurred_at,
                    reason=reason,
                    source=source,
                    order_id=order.pk,
                )
            )
    return entries


def order_return(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    order = _order_for(account, data["order"]["number"])
    left = order.amount - order.returned_amount
    amount = data.get("returned_amount")
    amount = left if amount is None else Decimal(amount)
    if left <= 0 or amount > left:
        raise ValidationError(
            {
                "returned_amount": _(
                    "Only %(left)s %(currency)s of order %(number)s is left to return."
                )
                % {"left": left, "currency": order.currency, "number": order.number}
            }
        )
    returned = order.returned_amount + amount
    Order.objects.filter(pk=order.pk).update(returned_amount=returned)
    if order.fraud:
        return []
    return _reverse_order(
        account,
        order,
        share=returned / order.amount,
        reason=_("order %(number)s returned (%(amount)s of %(total)s %(currency)s)")
        % {
            "number": order.number,
            "amount": amount,
            "total": order.amount,
            "currency": order.currency,
        },
        occurred_at=occurred_at,
        source=source,
    )


def order_flag_fraud(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    order = _order_for(account, data["order"]["number"])
    Order.objects.filter(pk=order.pk).update(fraud=True)
    return _reverse_order(
        account,
        order,
        share=Decimal(1),
        reason=_("order %(number)s flagged as fraud") % {"number": order.number},
        occurred_at=occurred_at,
        source=source,
    )


# event type -> (the part of the body holding the review or post id, the contribution kind)
CONTRIBUTIONS = {
    "review.posted": ("review", Contribution.Kind.REVIEW),
    "club.posted": ("post", Contribution.Kind.CLUB_POST),
}


def _contribution_exists(kind: str, ref: str) -> LedgerError:
    if kind == Contribution.Kind.REVIEW:
        return ReviewExists(_("Review %(id)s was already received.") % {"id": ref})
    return PostExists(_("Club post %(id)s was already received.") % {"id": ref})


def _contribution(account: Account, kind: str, ref: str, occurred_at: datetime) -> None:
    """Record the review or post; its unique (kind, id) refuses a second reward. Like an
    order number, the IntegrityError rolls the event back and `event_ingest` answers 409."""
    Contribution.objects.create(
        kind=kind, ref=ref, member_id=account.member_id, posted_at=occurred_at
    )


def review_award(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    _contribution(account, Contribution.Kind.REVIEW, data["review"]["id"], occurred_at)
    rule = rule_for(Rule.REVIEW)
    if rule is None:
        return []
    what = _("a review of product %(product)s") % {"product": data["review"]["product"]}
    return [
        _earn_by_rule(
            account, rule, wanted=rule.points, occurred_at=occurred_at, what=what, source=source
        )
    ]


def club_post_award(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    _contribution(account, Contribution.Kind.CLUB_POST, data["post"]["id"], occurred_at)
    rule = rule_for(Rule.CLUB_POST)
    if rule is None:
        return []
    what = _("club post %(post)s") % {"post": data["post"]["id"]}
    return [
        _earn_by_rule(
            account, rule, wanted=rule.points, occurred_at=occurred_at, what=what, source=source
        )
    ]


def redemption(
    account: Account, *, data: dict[str, Any], occurred_at: datetime, source: Source
) -> list[PointEntry]:
    return [
        _debit(
            account,
            kind=Kind.REDEEM,
            points=data["points"],
            occurred_at=occurred_at,
            reason=data.get("reason") or _("points spent"),
            source=source,
        )
    ]


HANDLERS = {
    "order.received": order_receive,
    "order.returned": order_return,
    "order.fraud": order_flag_fraud,
    "review.posted": review_award,
    "club.posted": club_post_award,
    "redemption": redemption,
}
EVENT_TYPES = tuple(t for t in HANDLERS if t != "redemption")


@dataclass(frozen=True)
class Outcome:
    answer: dict[str, Any]
    created: bool


def event_ingest(
    *,
    api_key: ApiKey,
    key: str,
    type: str,
    member_id: int,
    member_number: str,
    occurred_at: datetime,
    data: dict[str, Any],
    digest: str,
) -> Outcome:
    """Apply one event whole, once per (API key, event id).

    The member's account is locked first, then the event row is inserted (the order the
    batch path, `loyalty.batch`, takes too, so the two cannot deadlock): a concurrent twin
    waits on the lock or on the unique index and then fails, finds the committed row and
    answers its stored answer (or a conflict when the body differs). Any error rolls back
    everything, the event row included.
    """
    handler = HANDLERS[type]
    try:
        with transaction.atomic():
            account = account_lock(member_id=member_id)
            event = Event.objects.create(
                api_key=api_key, key=key, type=type, member_id=member_id, body_hash=digest
            )
            source = Source(api_key=api_key, event_id=event.pk)
            entries = handler(account, data=data, occurred_at=occurred_at, source=source)
            answer = {
                "id": key,
                "type": type,
                "member": member_number,
                "points": sum(e.points for e in entries),
                "entries": [
                    {"points": e.points, "kind": e.kind, "reason": e.reason} for e in entries
                ],
                "balance": account.balance,
            }
            Event.objects.filter(pk=event.pk).update(response=answer)
    except IntegrityError:
        existing = Event.objects.filter(api_key=api_key, key=key).first()
        if existing is not None:
            return _replay(existing, digest)
        if type == "order.received":
            number = data["order"]["number"]
            if Order.objects.filter(number=number).exists():
                raise OrderExists(
                    _("Order %(number)s was already received.") % {"number": number}
                ) from None
        if type in CONTRIBUTIONS:
            part, kind = CONTRIBUTIONS[type]
            ref = data[part]["id"]
            if Contribution.objects.filter(kind=kind, ref=ref).exists():
                raise _contribution_exists(kind, ref) from None
        raise
    return Outcome(answer, True)


def event_replay(*, api_key: ApiKey, key: str, digest: str) -> Outcome | None:
    """The stored answer of an event already applied, None when it is new."""
    existing = Event.objects.filter(api_key=api_key, key=key).first()
    return _replay(existing, digest) if existing is not None else None


def _replay(existing: Event, digest: str) -> Outcome:
    if existing.body_hash != digest:
        raise IdempotencyConflict(
            _("Event %(key)s was already received with a different body.") % {"key": existing.key}
        )
    return Outcome(existing.response, False)


def visit_seen_key(member_id: int, today: date) -> str:
    """The cache flag set once the member's visit of `today` is recorded."""
    return f"loyalty:visit:{member_id}:{today.isoformat()}"


def points_visit_award(*, member_id: int) -> PointEntry | None:
    """The daily member-center visit point: once per program-local day (the unique visit
    row decides), within the rule's shared monthly cap."""
    today = program_today()
    seen = visit_seen_key(member_id, today)
    if cache.get(seen):  # the day's visit is already recorded: no query on later page views
        return None
    if Visit.objects.filter(member_id=member_id, day=today).exists():
        cache.set(seen, True, 26 * 3600)
        return None
    entry = _visit_award(member_id=member_id, today=today)  # committed here (its own atomic)
    cache.set(seen, True, 26 * 3600)
    return entry


@transaction.atomic
def _visit_award(*, member_id: int, today: Any) -> PointEntry | None:
    account = account_lock(member_id=member_id)
    if not visit_record(member_id=member_id, day=today):
        return None
    rule = rule_for(Rule.VISIT)
    if rule is None:
        return None
    return _earn_by_rule(
        account,
        rule,
        wanted=rule.points,
        occurred_at=timezone.now(),
        what=_("your visit on %(day)s") % {"day": today.isoformat()},
        source=Source(),
    )


def program_currency() -> str:
    return Program.load().currency
