"""The one-round-trip `order.received` (loyalty_order_receive, PostgreSQL) against the Python
reference (`event_ingest`): over random rules, campaigns, tiers and event sequences, both give
the same answers and write the same ledger.

Two members live through the same story side by side: A's orders go through the SQL function,
B's through `event_ingest`; returns, fraud and spending go through the Python services for
both. Answers and rows are compared with the member-specific parts (order numbers, member
numbers, ids) normalised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.earning import Outcome, event_ingest
from loyalty.models import (
    Account,
    Campaign,
    EarningRule,
    Event,
    LotAllocation,
    Order,
    PointEntry,
    PointLot,
    Program,
    Tier,
)
from loyalty.receive_sql import ReceivedSpec, order_receive_sql
from loyalty.selectors import ledger_mismatches
from loyalty.services import InsufficientPoints, LedgerError, account_open, points_redeem
from members.services import api_key_create
from tests.factories import MemberFactory

CATEGORIES = ["shoes", "books", "toys", "food"]


@dataclass
class Config:
    shop: dict[str, Any] | None
    bonus: dict[str, Any] | None
    campaigns: list[dict[str, Any]]
    tier_code: str | None
    time_zone: str
    expiry: str


def _rule(kind: str) -> st.SearchStrategy[dict[str, Any] | None]:
    capped = st.fixed_dictionaries(
        {
            "points": st.integers(1, 6),
            "cap": st.integers(0, 12),
            "cap_period": st.sampled_from(["day", "month"]),
            "cap_group": st.sampled_from(["", "", "shop"]),
        }
    )
    uncapped = st.fixed_dictionaries(
        {
            "points": st.integers(1, 6),
            "cap": st.none(),
            "cap_period": st.just(""),
            "cap_group": st.just(""),
        }
    )
    rule = st.one_of(capped, uncapped)
    if kind == "shopping":
        rule = st.tuples(rule, st.sampled_from([None, None, "2.00", "10.00", "25.50"])).map(
            lambda pair: {**pair[0], "min_amount": pair[1]}
        )
    return st.one_of(rule, rule, rule, st.none())


CAMPAIGN = st.fixed_dictionaries(
    {
        "multiplier": st.sampled_from([None, "1.50", "2.00", "3.25"]),
        "bonus_points": st.integers(1, 9),
        "categories": st.sampled_from(["", "", "shoes", " Books , toys ", "garden"]),
        "tiers": st.sampled_from([[], [], ["standard"], ["silver", "gold"]]),
        "days": st.sampled_from([(-5, 5), (-5, 5), (0, 0), (-3, -1), (1, 3)]),
        "active": st.sampled_from([True, True, True, False]),
        "name": st.sampled_from(["Double 11", "Spring % sale", "Fan week"]),
    }
)

CONFIG = st.builds(
    Config,
    shop=_rule("shopping"),
    bonus=_rule("category_bonus"),
    campaigns=st.lists(CAMPAIGN, min_size=1, max_size=3) | st.just([]),
    tier_code=st.sampled_from([None, "standard", "silver", "gold"]),
    time_zone=st.sampled_from(["UTC", "Asia/Shanghai", "America/Los_Angeles"]),
    expiry=st.sampled_from(["never", "months", "year_end"]),
)

RECEIVE = st.fixed_dictionaries(
    {
        "op": st.just("receive"),
        "amount": st.sampled_from(["0.01", "1.99", "2.00", "9.99", "10.00", "25.50", "120.00"]),
        "categories": st.lists(st.sampled_from([*CATEGORIES, "Shoes"]), max_size=3),
        "hours_ago": st.sampled_from([0, 1, 5, 20, 30, 60, 24 * 40]),
    }
)
STEP = st.one_of(
    RECEIVE,
    RECEIVE,
    RECEIVE,
    st.fixed_dictionaries({"op": st.just("replay"), "which": st.integers(0, 50)}),
    st.fixed_dictionaries({"op": st.just("conflict"), "which": st.integers(0, 50)}),
    st.fixed_dictionaries({"op": st.just("same_order"), "which": st.integers(0, 50)}),
    st.fixed_dictionaries(
        {"op": st.just("return"), "which": st.integers(0, 50), "part": st.booleans()}
    ),
    st.fixed_dictionaries({"op": st.just("fraud"), "which": st.integers(0, 50)}),
    st.fixed_dictionaries({"op": st.just("spend"), "points": st.integers(1, 15)}),
    st.fixed_dictionaries({"op": st.just("spend_all")}),
)


def _configure(config: Config, now: datetime) -> None:
    program = Program.load()
    program.time_zone = config.time_zone
    program.expiry_policy = config.expiry
    program.save()
    for kind, spec in (("shopping", config.shop), ("category_bonus", config.bonus)):
        rule = EarningRule.objects.get(kind=kind)
        if spec is None:
            rule.active = False
        else:
            rule.active = True
            rule.points = spec["points"]
            rule.cap = spec["cap"]
            rule.cap_period = spec["cap_period"]
            rule.cap_group = spec["cap_group"]
            rule.name = "Shopping Spree" if kind == "shopping" else "Category Bonus"
            if kind == "shopping":
                rule.min_amount = Decimal(spec["min_amount"]) if spec["min_amount"] else None
        rule.save()
    Campaign.objects.update(active=False)
    today = timezone.localdate(now)
    for spec in config.campaigns:
        campaign = Campaign.objects.create(
            name=spec["name"],
            starts_on=today + timedelta(days=spec["days"][0]),
            ends_on=today + timedelta(days=spec["days"][1]),
            multiplier=Decimal(spec["multiplier"]) if spec["multiplier"] else None,
            bonus_points=None if spec["multiplier"] else spec["bonus_points"],
            categories=spec["categories"],
            active=spec["active"],
        )
        campaign.tiers.set(Tier.objects.filter(code__in=spec["tiers"]))


class Side:
    """One member's run: A through the SQL function, B through `event_ingest`."""

    def __init__(self, name: str, sql: bool, tier: Tier | None) -> None:
        self.name = name
        self.sql = sql
        self.member = MemberFactory()
        account_open(member_id=self.member.pk)
        Account.objects.filter(member=self.member).update(tier=tier)
        self.api_key = api_key_create(name=f"side {name}")[0]

    def norm(self, value: Any) -> Any:
        """The answer with this side's order and member numbers replaced."""
        if isinstance(value, dict):
            return {k: self.norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.norm(v) for v in value)
        if isinstance(value, str):
            return value.replace(f"{self.name}-", "X-").replace(self.member.number, "MEMBER")
        return value

    def receive(self, key: str, order: str, body: dict[str, Any], at: datetime) -> Any:
        categories = sorted({c.strip().lower() for c in body["categories"] if c})
        digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()
        number = f"{self.name}-{order}"
        try:
            if self.sql:
                outcome, _member_id = order_receive_sql(
                    api_key_id=self.api_key.pk,
                    event=ReceivedSpec(
                        key=key,
                        member_number=self.member.number,
                        occurred_at=at,
                        number=number,
                        amount=Decimal(body["amount"]),
                        currency="USD",
                        categories=categories,
                        digest=digest,
                    ),
                )
            else:
                outcome = event_ingest(
                    api_key=self.api_key,
                    key=key,
                    type="order.received",
                    member_id=self.member.pk,
                    member_number=self.member.number,
                    occurred_at=at,
                    data={
                        "order": {
                            "number": number,
                            "amount": Decimal(body["amount"]),
                            "currency": "USD",
                            "categories": categories,
                        }
                    },
                    digest=digest,
                )
        except LedgerError as exc:
            return (exc.code, self.norm(str(exc)))
        return (outcome.created, self.norm(outcome.answer))

    def other(self, type: str, key: str, data: dict[str, Any], at: datetime) -> Any:
        try:
            with transaction.atomic():
                outcome: Outcome = event_ingest(
                    api_key=self.api_key,
                    key=key,
                    type=type,
                    member_id=self.member.pk,
                    member_number=self.member.number,
                    occurred_at=at,
                    data=data,
                    digest=key,
                )
        except LedgerError as exc:
            return (exc.code, self.norm(str(exc)))
        except Exception as exc:  # e.g. a ValidationError: too much returned
            return (type, exc.__class__.__name__)
        return (outcome.created, self.norm(outcome.answer))

    def spend(self, points: int, at: datetime) -> Any:
        try:
            return points_redeem(
                member_id=self.member.pk, points=points, reason="r", occurred_at=at
            ).points
        except InsufficientPoints:
            return "insufficient"

    def ledger(self) -> dict[str, Any]:
        member = self.member.pk
        entries = list(PointEntry.objects.filter(member_id=member).order_by("id"))
        index = {e.pk: n for n, e in enumerate(entries)}
        lots = list(PointLot.objects.filter(member_id=member).order_by("id"))
        lot_index = {lot.pk: n for n, lot in enumerate(lots)}
        orders = {o.pk: o for o in Order.objects.filter(member_id=member)}
        events = {e.pk: e for e in Event.objects.filter(member_id=member)}
        return self.norm(
            {
                "balance": Account.objects.get(member_id=member).balance,
                "entries": [
                    (
                        e.kind,
                        e.points,
                        e.reason,
                        e.occurred_at,
                        e.qualifying_at,
                        e.rule_id,
                        e.campaign_id,
                        index.get(e.reverses_id) if e.reverses_id else None,
                        orders[e.order_id].number if e.order_id else None,
                        events[e.event_id].key if e.event_id else None,
                        e.api_key_id is not None,
                    )
                    for e in entries
                ],
                "lots": [
                    (index[lot.entry_id], lot.points, lot.remaining, lot.expires_on) for lot in lots
                ],
                "allocations": sorted(
                    (lot_index[a.lot_id], index[a.entry_id], a.points)
                    for a in LotAllocation.objects.filter(lot__member_id=member)
                ),
                "orders": sorted(
                    (
                        o.number,
                        o.amount,
                        o.currency,
                        o.categories,
                        o.received_at,
                        o.returned_amount,
                        o.fraud,
                    )
                    for o in orders.values()
                ),
                "events": sorted((e.key, e.type, e.body_hash, e.response) for e in events.values()),
            }
        )


def run_story(config: Config, steps: list[dict[str, Any]]) -> None:
    """Both sides through `steps`; same answers at every step, same ledger at the end."""
    now = timezone.now()
    with transaction.atomic():
        _configure(config, now)
        tier = Tier.objects.filter(code=config.tier_code).first()
        a, b = Side("A", True, tier), Side("B", False, tier)
        sent: list[tuple[str, str, dict[str, Any], datetime]] = []
        for n, step in enumerate(steps):
            at = now - timedelta(hours=step.get("hours_ago", 0), seconds=len(steps) - n)
            answers = []
            body = {"amount": step.get("amount"), "categories": step.get("categories")}
            for side in (a, b):
                if step["op"] == "receive":
                    answers.append(side.receive(f"e{n}", f"SO-{n}", body, at))
                elif step["op"] in ("replay", "conflict", "same_order") and sent:
                    key, order, old, when = sent[step["which"] % len(sent)]
                    if step["op"] == "replay":
                        answers.append(side.receive(key, order, old, when))
                    elif step["op"] == "conflict":
                        answers.append(side.receive(key, order, {**old, "amount": "77.00"}, when))
                    else:
                        answers.append(side.receive(f"e{n}", order, old, at))
                elif step["op"] in ("return", "fraud") and sent:
                    _key, order, _old, _when = sent[step["which"] % len(sent)]
                    data: dict[str, Any] = {"order": {"number": f"{side.name}-{order}"}}
                    if step["op"] == "return" and step["part"]:
                        data["returned_amount"] = Decimal("1.00")
                    type = "order.returned" if step["op"] == "return" else "order.fraud"
                    answers.append(side.other(type, f"e{n}", data, at))
                elif step["op"] == "spend":
                    answers.append(side.spend(step["points"], at))
                elif step["op"] == "spend_all":  # a later return or fraud leaves a debt
                    balance = Account.objects.get(member=side.member).balance
                    answers.append(side.spend(balance, at) if balance > 0 else None)
            if step["op"] == "receive":
                sent.append((f"e{n}", f"SO-{n}", body, at))
            if answers:
                assert answers[0] == answers[1], step
        assert a.ledger() == b.ledger()
        assert ledger_mismatches() == []
        transaction.set_rollback(True)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=CONFIG, steps=st.lists(STEP, min_size=1, max_size=16))
def test_sql_path_answers_and_writes_as_the_python_path(
    program: None, config: Config, steps: list[dict[str, Any]]
) -> None:
    run_story(config, steps)


SHOP = {"points": 5, "cap": None, "cap_period": "", "cap_group": "", "min_amount": "2.00"}
BONUS = {"points": 1, "cap": 3, "cap_period": "day", "cap_group": ""}


def _campaign(**fields: Any) -> dict[str, Any]:
    return {
        "multiplier": None,
        "bonus_points": 4,
        "categories": "",
        "tiers": [],
        "days": (-5, 5),
        "active": True,
        "name": "Double 11",
        **fields,
    }


def _order(amount: str = "10.00", categories: list[str] | None = None, hours_ago: int = 0) -> dict:
    return {
        "op": "receive",
        "amount": amount,
        "categories": categories or [],
        "hours_ago": hours_ago,
    }


SCENARIOS = {
    "multiplier rounds down": (
        Config({**SHOP, "points": 3}, None, [_campaign(multiplier="1.50")], None, "UTC", "never"),
        [_order(), _order()],
    ),
    "campaigns by tier and category, in order": (
        Config(
            SHOP,
            BONUS,
            [
                _campaign(tiers=["gold"], name="Gold"),
                _campaign(tiers=["standard"], name="Base", multiplier="2.00"),
                _campaign(categories=" Books , toys ", name="Books"),
                _campaign(categories="garden", name="Garden"),
                _campaign(days=(1, 3), name="Later"),
            ],
            None,
            "Asia/Shanghai",
            "months",
        ),
        [_order(categories=["books", "shoes"]), _order(categories=["toys"])],
    ),
    "capped shopping and shared cap group": (
        Config(
            {**SHOP, "cap": 7, "cap_period": "day", "cap_group": "shop"},
            {**BONUS, "cap": 7, "cap_period": "day", "cap_group": "shop"},
            [],
            "gold",
            "America/Los_Angeles",
            "year_end",
        ),
        [_order(categories=["a", "b"]), _order(categories=["c", "d"]), _order(categories=["e"])],
    ),
    "below the minimum": (
        Config({**SHOP, "min_amount": "25.50"}, BONUS, [], None, "UTC", "never"),
        [_order("25.49", ["a"]), _order("25.50", ["b"])],
    ),
    "a debt is repaid by later earnings": (
        Config(SHOP, None, [_campaign()], None, "UTC", "months"),
        [
            _order(),
            _order(),
            {"op": "spend_all"},
            {"op": "fraud", "which": 0},
            _order(),
            {"op": "return", "which": 1, "part": False},
            _order(),
            _order(),
        ],
    ),
    "replays, conflicts and a second order with the same number": (
        Config(SHOP, BONUS, [], None, "UTC", "never"),
        [
            _order(categories=["a"]),
            {"op": "replay", "which": 0},
            {"op": "conflict", "which": 0},
            {"op": "same_order", "which": 0},
            _order(categories=["b"]),
        ],
    ),
    "a return frees cap room (net of reversals)": (
        Config({**SHOP, "cap": 5, "cap_period": "day"}, None, [], None, "Asia/Shanghai", "never"),
        [
            _order(),
            _order(),
            {"op": "return", "which": 0, "part": False},
            _order(),
            {"op": "fraud", "which": 2},
            _order(),
        ],
    ),
    "no shopping rule": (
        Config(None, BONUS, [_campaign()], None, "UTC", "never"),
        [_order(categories=["a", "b"])],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sql_path_scenarios(program: None, name: str) -> None:
    config, steps = SCENARIOS[name]
    run_story(config, steps)


def test_an_unknown_member_is_not_found(program: None) -> None:
    key = api_key_create(name="k")[0]
    spec = ReceivedSpec(
        key="e1",
        member_number="0000000000",
        occurred_at=timezone.now(),
        number="SO-1",
        amount=Decimal("10.00"),
        currency="USD",
        categories=[],
        digest="d",
    )
    with pytest.raises(LedgerError) as caught:
        order_receive_sql(api_key_id=key.pk, event=spec)
    assert caught.value.code == "member_not_found"
    assert not Event.objects.exists()
    assert not Order.objects.exists()
