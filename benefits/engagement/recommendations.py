"""'Recommended for you': brands, rewards and events ranked by the categories of the member's
received orders in the last 90 days, each with its reason.

Ranking (deterministic): a category weighs the number of the member's recent orders that
contain it (orders flagged as fraud or returned in full do not count); an item scores the sum
of the weights of its categories (an event: its host brand's) and gives its heaviest category
as the reason; ties go by name (brands), points price (rewards) or start (events), then id.
Only rewards that are active, in stock and open to the member's tier are offered. Members with
no history, or too few matches, get the defaults: the brand of the week, other brands by name;
the rewards they can afford with their balance, cheapest first; the soonest events. Costs one
query (the orders); the catalogue (rewards included) comes from the showcase snapshot, and the
balance and tier from the account row the dashboard's points card already fetched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.catalogue.models import Reward
from benefits.engagement.models import Brand, MemberEvent
from benefits.engagement.showcase import Showcase, showcase
from core.clock import note_change_at
from loyalty.earning.models import Order
from loyalty.ledger.selectors import account_state
from members.models import Member

WINDOW_DAYS = 90
ORDERS_READ = 500  # the most recent orders in the window are plenty to rank by
PER_KIND = 3


@dataclass(frozen=True)
class Recommendation:
    kind: str  # "brand", "reward" or "event"
    item: Brand | Reward | MemberEvent
    reason: str
    score: int


@dataclass
class Recommendations:
    brands: list[Recommendation] = field(default_factory=list)
    rewards: list[Recommendation] = field(default_factory=list)
    events: list[Recommendation] = field(default_factory=list)
    personal: bool = False  # at least one item is ranked by the member's orders

    def __bool__(self) -> bool:
        return bool(self.brands or self.rewards or self.events)


def category_weights(member_id: int, now: datetime) -> Counter[str]:
    """How many of the member's orders received in the last 90 days name each category."""
    rows = (
        Order.objects.filter(
            member_id=member_id,
            received_at__gte=now - timedelta(days=WINDOW_DAYS),
            received_at__lte=now,
            fraud=False,
        )
        .exclude(returned_amount=F("amount"))
        .order_by("-received_at", "-pk")
        .values_list("categories", "received_at")[:ORDERS_READ]
    )
    weights: Counter[str] = Counter()
    for categories, received_at in rows:
        weights.update(set(categories or []))  # stored normalised (core.text)
        note_change_at(received_at + timedelta(days=WINDOW_DAYS))  # it leaves the window
    return weights


def _match(categories: list[str], weights: Counter[str]) -> tuple[int, str | None]:
    """(score, the heaviest matching category, ties alphabetical) of an item's categories."""
    matches = sorted({c for c in categories if weights.get(c)}, key=lambda c: (-weights[c], c))
    return sum(weights[c] for c in matches), (matches[0] if matches else None)


def _because(category: str) -> str:
    return _("because you bought %(category)s") % {"category": category}


def _rank_rewards(
    snapshot: Showcase, tier_id: int | None, balance: int, weights: Counter[str]
) -> list[Recommendation]:
    """Rewards the member may take now (active, in stock, their tier): by their categories,
    then the ones they can afford, cheapest first."""
    offered = [
        r
        for r in sorted(snapshot.rewards, key=lambda r: (r.points, r.pk))
        if r.active
        and (r.stock is None or r.stock > 0)
        and (not snapshot.reward_tier_ids(r) or tier_id in snapshot.reward_tier_ids(r))
    ]
    scored = []
    for reward in offered:
        score, why = _match(reward.category_list, weights)
        if why is not None:
            scored.append((-score, reward.points, reward.pk, reward, why))
    picked = [
        Recommendation("reward", reward, _because(why), -s)
        for s, _p, _pk, reward, why in sorted(scored, key=lambda r: r[:3])[:PER_KIND]
    ]
    chosen = {r.item.pk for r in picked}
    for reward in offered:
        if len(picked) >= PER_KIND:
            break
        if reward.pk not in chosen and reward.points <= balance:
            picked.append(Recommendation("reward", reward, _("You can afford this"), 0))
    return picked


def rank(
    snapshot: Showcase,
    tier_id: int | None,
    weights: Counter[str],
    now: datetime,
    *,
    balance: int = 0,
) -> Recommendations:
    """The ranking itself: no query."""
    result = Recommendations()
    scored_brands = []
    for brand in snapshot.brands:
        score, why = _match(brand.category_list, weights)
        if why is not None:
            scored_brands.append((-score, brand.name, brand.pk, brand, why))
    for _s, _n, _pk, brand, why in sorted(scored_brands, key=lambda r: r[:3])[:PER_KIND]:
        result.brands.append(Recommendation("brand", brand, _because(why), -_s))
    featured = snapshot.featured.brand if snapshot.featured is not None else None
    defaults = ([featured] if featured is not None and featured.active else []) + [
        b for b in snapshot.brands if featured is None or b.pk != featured.pk
    ]
    chosen = {r.item.pk for r in result.brands}
    for brand in defaults:
        if len(result.brands) >= PER_KIND:
            break
        if brand.pk in chosen:
            continue
        chosen.add(brand.pk)
        is_featured = featured is not None and brand.pk == featured.pk
        reason = _("Brand of the week") if is_featured else _("Something new to discover")
        result.brands.append(Recommendation("brand", brand, reason, 0))

    result.rewards = _rank_rewards(snapshot, tier_id, balance, weights)

    for event in snapshot.events:  # an event leaves the list when its RSVP closes or it starts
        note_change_at(event.starts_at, event.rsvp_deadline)
    open_events = [
        e
        for e in snapshot.events
        if e.starts_at > now
        and e.rsvp_deadline > now
        and (not snapshot.event_tier_ids(e) or tier_id in snapshot.event_tier_ids(e))
    ]
    scored_events = []
    for event in open_events:
        categories = event.host_brand.category_list if event.host_brand else []
        score, why = _match(categories, weights)
        if why is not None:
            scored_events.append((-score, event.starts_at, event.pk, event, why))
    for _s, _t, _pk, event, why in sorted(scored_events, key=lambda r: r[:3])[:PER_KIND]:
        result.events.append(Recommendation("event", event, _because(why), -_s))
    taken = {r.item.pk for r in result.events}
    for event in open_events:
        if len(result.events) >= PER_KIND:
            break
        if event.pk not in taken:
            result.events.append(Recommendation("event", event, _("Coming up soon"), 0))
    result.personal = any(r.score for r in result.brands + result.rewards + result.events)
    return result


def recommendations_for(member: Member, now: datetime | None = None) -> Recommendations:
    """The member's recommendations: one query (their recent orders) beyond the snapshot and
    their balance and tier (shared with the dashboard's points card)."""
    now = now or timezone.now()
    snapshot = showcase()
    balance, tier_id = account_state(member)
    tier_id = tier_id or snapshot.base_tier_id
    return rank(snapshot, tier_id, category_weights(member.pk, now), now, balance=balance)
