"""The earning planner (loyalty/earning/planner.py) against a small, obviously-correct model of
the program, over random rules, caps (daily, monthly, shared groups), earlier earnings with
their reversals, debts, campaigns (windows, tiers, categories, multipliers and flat bonuses)
and orders whose categories are spelled in every Unicode way a shop may spell them. Pure: no
database, so Hypothesis can try many cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core import text
from loyalty.earning.planner import (
    CampaignState,
    ContributionPosted,
    DayOrder,
    Held,
    OrderReceived,
    Outcome,
    ProgramState,
    Snapshot,
    Usage,
    plan,
    reads,
)
from loyalty.program.expiry import lot_expiry
from loyalty.program.models import EarningRule, Program

TODAY = date(2026, 11, 11)
NOW = datetime(2026, 11, 11, 12, tzinfo=UTC)
MEMBERS = {"100": 1, "200": 2}  # number -> id
TIERS = (10, 20, 30)  # tier ids; 10 is the base tier
# The same few categories, spelled as shops and admins type them.
SPELLINGS = {
    "shoes": ["shoes", "Shoes", "ＳＨＯＥＳ", " shoes\u3000", "\u00a0SHOES"],
    "bags": ["bags", "Bags", "ｂａｇｓ", "\u3000bags", "bags\u00a0"],
    "tea_%": ["tea_%", "TEA_%", "ｔｅａ＿％"],
    "home decor": ["home decor", "Home  Decor", "home\u3000decor"],
    "straße": ["straße", "STRASSE", "Straße"],
}


def spelled(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(SPELLINGS[name])


# --- the generators -----------------------------------------------------------------------
def rule_spec(kind: str, pk: int) -> st.SearchStrategy[EarningRule | None]:
    def build(points: int, cap: int | None, period: str, group: str, minimum: str | None) -> Any:
        return EarningRule(
            pk=pk,
            kind=kind,
            name=kind.replace("_", " ").title(),
            points=points,
            cap=cap,
            cap_period=period if cap is not None else "",
            cap_group=group,  # an uncapped rule in a group counts against the group's caps
            min_amount=Decimal(minimum) if minimum and kind == "shopping" else None,
            active=True,
        )

    rule = st.builds(
        build,
        st.integers(1, 6),
        st.one_of(st.none(), st.integers(0, 12)),
        st.sampled_from(["day", "month"]),
        st.sampled_from(["", "", "shared"]),
        st.sampled_from([None, "2.00", "10.00"]),
    )
    return st.one_of(st.none(), rule, rule, rule)


@dataclass
class Story:
    program: ProgramState
    snapshot: Snapshot
    events: list[Any]


@st.composite
def stories(draw: Any) -> Story:
    rules = [
        draw(rule_spec("shopping", 1)),
        draw(rule_spec("category_bonus", 2)),
        draw(rule_spec("review", 3)),
        draw(rule_spec("club_post", 4)),
    ]
    # rules of one cap group agree on the cap and its period (EarningRule.clean), except where
    # they were saved some other way (no database constraint forbids it): then each capped
    # rule's cap counts what every rule of its group granted in its own period
    grouped = [r for r in rules if r is not None and r.cap_group]
    if draw(st.booleans()):
        for r in grouped[1:]:
            r.cap, r.cap_period = grouped[0].cap, grouped[0].cap_period
    campaigns = []
    for n in range(draw(st.integers(0, 3))):
        flat = draw(st.booleans())
        start = TODAY + timedelta(days=draw(st.integers(-10, 2)))
        categories = draw(
            st.lists(st.sampled_from(list(SPELLINGS)), max_size=2).flatmap(
                lambda names: st.tuples(*[spelled(name) for name in names])
            )
        )
        campaigns.append(
            CampaignState(
                id=100 + n,
                name=draw(st.sampled_from(["Double 11", "50% off_day", "Fan week"])),
                starts_on=start,
                ends_on=start + timedelta(days=draw(st.integers(0, 10))),
                multiplier=None
                if flat
                else draw(st.sampled_from([Decimal("1.5"), Decimal("3.25")])),
                bonus_points=draw(st.integers(1, 9)) if flat else None,
                # as an admin types them, then as they are stored (core.fields)
                categories=frozenset(text.category_list(",".join(categories))),
                tier_ids=frozenset(draw(st.lists(st.sampled_from(TIERS), max_size=2))),
            )
        )
    settings_ = Program(
        pk=1,
        currency="USD",
        time_zone=draw(st.sampled_from(["UTC", "Asia/Shanghai", "America/Los_Angeles"])),
        expiry_policy=draw(st.sampled_from(["never", "months", "year_end"])),
        expiry_months=12,
    )
    program = ProgramState(
        version=1,
        settings=settings_,
        rules={r.pk: r for r in rules if r is not None},
        campaigns=tuple(campaigns),
        base_tier_id=10,
    )
    tz = program.tz
    usage = [
        Usage(
            member_id=draw(st.sampled_from([1, 2])),
            rule_id=draw(st.sampled_from([1, 2, 3, 4])),
            day=TODAY - timedelta(days=draw(st.integers(0, 40))),
            points=points,
            reversed=-draw(st.integers(0, points)),
        )
        for points in draw(st.lists(st.integers(0, 8), max_size=6))
    ]
    day_orders = [
        DayOrder(
            member_id=draw(st.sampled_from([1, 2])),
            day=TODAY - timedelta(days=draw(st.integers(0, 1))),
            amount=Decimal(draw(st.sampled_from(["1.00", "5.00", "20.00"]))),
            categories=tuple(
                text.categories([draw(spelled(draw(st.sampled_from(list(SPELLINGS)))))])
            ),
            fraud=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    snapshot = Snapshot(
        program=program,
        now=NOW,
        api_key_id=7,
        key_active=True,
        members=MEMBERS,
        accounts={
            1: Held(draw(st.integers(-15, 20)), draw(st.sampled_from([None, 20, 30]))),
            2: Held(draw(st.integers(-15, 20)), draw(st.sampled_from([None, 20, 30]))),
        },
        stored={},
        orders_taken=frozenset(),
        contributions_taken=frozenset(),
        visits_taken=frozenset(),
        usage=tuple(usage),
        day_orders=tuple(day_orders),
    )
    events: list[Any] = []
    for n in range(draw(st.integers(1, 10))):
        member = draw(st.sampled_from(list(MEMBERS)))
        at = NOW - timedelta(hours=draw(st.sampled_from([0, 3, 13, 30, 24 * 20])))
        kind = draw(st.sampled_from(["order", "order", "order", "review", "post"]))
        if kind == "order":
            raw = draw(st.lists(st.sampled_from(list(SPELLINGS)), max_size=3))
            events.append(
                OrderReceived(
                    key=f"e{n}",
                    member_number=member,
                    occurred_at=at,
                    number=f"SO-{n}",
                    amount=Decimal(
                        draw(st.sampled_from(["0.01", "1.99", "2.00", "10.00", "55.50"]))
                    ),
                    currency="USD",
                    categories=tuple(text.categories([draw(spelled(name)) for name in raw])),
                    digest=f"d{n}",
                )
            )
        else:
            events.append(
                ContributionPosted(
                    type="review.posted" if kind == "review" else "club.posted",
                    key=f"e{n}",
                    member_number=member,
                    occurred_at=at,
                    ref=f"R{n}",
                    product="P",
                    digest=f"d{n}",
                )
            )
    del tz
    return Story(program, snapshot, events)


# --- the model: the program's rules, written the plain way ---------------------------------
def local_day(moment: datetime, program: ProgramState) -> date:
    return moment.astimezone(program.tz).date()


def period_key(rule: EarningRule, day: date) -> tuple[int, int, int]:
    return (day.year, day.month, day.day if rule.cap_period == "day" else 0)


def model(story: Story) -> list[dict[str, Any]]:
    """What each event should do: (points, rule id, campaign id, repay) per entry, balance."""
    program, snap = story.program, story.snapshot
    rules = list(program.rules.values())

    def active(kind: str) -> EarningRule | None:
        return next((r for r in rules if r.kind == kind), None)

    def same_cap(rule: EarningRule, other_id: int) -> bool:
        other = program.rules.get(other_id)
        if other is None:
            return False
        return other.cap_group == rule.cap_group if rule.cap_group else other.pk == rule.pk

    # every earning so far: (member, rule id, day, points net of reversals)
    earned = [(u.member_id, u.rule_id, u.day, u.points + u.reversed) for u in snap.usage]
    orders = [(o.member_id, o.day, o.amount, o.categories, o.fraud) for o in snap.day_orders]
    balance = {m: held.balance for m, held in snap.accounts.items()}
    shopping = active("shopping")
    minimum = shopping.min_amount if shopping else None
    results = []

    def grant(member: int, rule: EarningRule, day: date, wanted: int) -> int:
        if rule.cap is None:
            return wanted
        used = sum(
            pts
            for m, rid, d, pts in earned
            if m == member and same_cap(rule, rid) and period_key(rule, d) == period_key(rule, day)
        )
        return min(wanted, max(rule.cap - used, 0))

    for event in story.events:
        member = MEMBERS[event.member_number]
        day = local_day(event.occurred_at, program)
        entries: list[tuple[int, int | None, int | None]] = []

        def credit(
            points: int,
            rule_id: int | None,
            campaign_id: int | None,
            entries: list[Any] = entries,
            member: int = member,
            day: date = day,
        ) -> None:
            entries.append((points, rule_id, campaign_id))
            if rule_id is not None:
                earned.append((member, rule_id, day, points))

        if isinstance(event, OrderReceived):
            counts = minimum is None or event.amount >= minimum
            prior = set().union(
                *[
                    set(c)
                    for m, d, a, c, f in orders
                    if m == member and d == day and not f and (minimum is None or a >= minimum)
                ]
            )
            orders.append((member, day, event.amount, event.categories, False))
            if shopping is not None and not counts:
                credit(0, shopping.pk, None)
            elif shopping is not None:
                base = grant(member, shopping, day, shopping.points)
                credit(base, shopping.pk, None)
                bonus = active("category_bonus")
                if bonus is not None:
                    new = len(set(event.categories) - prior)
                    extra = max(len(prior | set(event.categories)) - 1, 0) - max(len(prior) - 1, 0)
                    assert extra <= new
                    if extra > 0:
                        credit(grant(member, bonus, day, extra * bonus.points), bonus.pk, None)
                tier = snap.accounts[member].tier_id or program.base_tier_id
                for c in program.campaigns if base else ():
                    if not c.starts_on <= day <= c.ends_on:
                        continue
                    if c.tier_ids and tier not in c.tier_ids:
                        continue
                    if c.categories and not c.categories & set(event.categories):
                        continue
                    if c.multiplier is not None:
                        points = int((base * (c.multiplier - 1)).to_integral_value(ROUND_FLOOR))
                    else:
                        points = c.bonus_points or 0
                    if points > 0:
                        credit(points, None, c.id)
        else:
            rule = active("review" if event.type == "review.posted" else "club_post")
            if rule is not None:
                credit(grant(member, rule, day, rule.points), rule.pk, None)
        rows = []
        for points, rule_id, campaign_id in entries:
            debt = max(-balance[member], 0)
            repay = min(points, debt) if points > 0 else 0
            balance[member] += points
            expires = lot_expiry(day, program.settings) if points > 0 else None
            rows.append((points, rule_id, campaign_id, repay, expires))
        results.append({"entries": rows, "balance": balance[member]})
    return results


@settings(max_examples=400, deadline=None)
@given(story=stories())
def test_the_planner_applies_the_rules_as_the_model_does(story: Story) -> None:
    planned = plan(story.snapshot, story.events)
    expected = model(story)
    by_key: dict[str, list[Any]] = {}
    for entry in planned.entries:
        by_key.setdefault(entry.event_key or "", []).append(entry)
    for event, result, want in zip(story.events, planned.results, expected, strict=True):
        assert isinstance(result, Outcome)
        got = [
            (e.points, e.rule_id, e.campaign_id, e.repay, e.expires_on)
            for e in by_key.get(event.key, [])
        ]
        assert got == want["entries"], event
        assert result.answer["balance"] == want["balance"]
        assert result.answer["points"] == sum(p for p, *_rest in want["entries"])
        assert [e["points"] for e in result.answer["entries"]] == [p for p, *_r in got]
    # the rows to write agree with the answers
    assert len(planned.events) == len(story.events)
    assert sum(planned.deltas.values()) == sum(e.points for e in planned.entries)
    orders = [e for e in story.events if isinstance(e, OrderReceived)]
    assert [o.number for o in planned.orders] == [o.number for o in orders]


@settings(max_examples=200, deadline=None)
@given(story=stories())
def test_what_the_planner_asks_to_read_covers_what_it_uses(story: Story) -> None:
    """`reads` names every rule whose earnings a cap counts and a window that holds every
    event's cap period and day: usage outside it changes nothing."""
    wanted = reads(story.program, story.events)
    tz = story.program.tz
    for event in story.events:
        moment = event.occurred_at
        if wanted.usage_window is not None:
            start, end = wanted.usage_window
            assert start <= moment < end
        if isinstance(event, OrderReceived) and wanted.orders_window is not None:
            start, end = wanted.orders_window
            assert start <= moment < end
    kept = [
        u
        for u in story.snapshot.usage
        if u.rule_id in wanted.usage_rule_ids
        and wanted.usage_window is not None
        and wanted.usage_window[0].astimezone(tz).date()
        <= u.day
        < wanted.usage_window[1].astimezone(tz).date()
    ]
    narrowed = Snapshot(**{**story.snapshot.__dict__, "usage": tuple(kept)})
    assert plan(narrowed, story.events).results == plan(story.snapshot, story.events).results


@given(
    name=st.sampled_from(list(SPELLINGS)),
    data=st.data(),
)
def test_every_spelling_of_a_category_is_one_category(name: str, data: Any) -> None:
    spelling = data.draw(spelled(name))
    assert text.normalize(spelling) == text.normalize(name)
    assert text.normalize(text.normalize(spelling)) == text.normalize(spelling)
    admin_typed = data.draw(st.sampled_from([f"{spelling},\u3000Other", f" {spelling} ，other"]))
    assert text.category_list(admin_typed) == [text.normalize(name), "other"]


def test_the_ideographic_space_regression() -> None:
    """A campaign an admin typed as "Shoes,　Bags" (the ideographic space a Chinese input
    method types) and an order in "bags": the bonus applies."""
    program = ProgramState(
        version=1,
        settings=Program(pk=1, currency="USD", time_zone="UTC", expiry_policy="never"),
        rules={1: EarningRule(pk=1, kind="shopping", name="Shopping", points=5, active=True)},
        campaigns=(
            CampaignState(
                id=9,
                name="Bags week",
                starts_on=TODAY,
                ends_on=TODAY,
                multiplier=None,
                bonus_points=4,
                categories=frozenset(text.category_list("Shoes,\u3000Bags")),
                tier_ids=frozenset(),
            ),
        ),
        base_tier_id=10,
    )
    snapshot = Snapshot(
        program=program,
        now=NOW,
        api_key_id=7,
        key_active=True,
        members=MEMBERS,
        accounts={1: Held(0, None)},
        stored={},
        orders_taken=frozenset(),
        contributions_taken=frozenset(),
        visits_taken=frozenset(),
        usage=(),
        day_orders=(),
    )
    order = OrderReceived(
        key="e1",
        member_number="100",
        occurred_at=NOW,
        number="SO-1",
        amount=Decimal("20.00"),
        currency="USD",
        categories=tuple(text.categories(["bags\u00a0"])),
        digest="d",
    )
    [result] = plan(snapshot, [order]).results
    assert isinstance(result, Outcome)
    assert result.answer["points"] == 9
