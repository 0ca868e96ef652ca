from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import points_award
from loyalty.ledger.tasks import expire_points
from loyalty.program.models import EarningRule, Program

pytestmark = pytest.mark.django_db


def test_load_program_loads_the_default_rules_once() -> None:
    out = io.StringIO()
    call_command("load_program", "aliexpress", stdout=out)
    assert "earning rule shopping" in out.getvalue()
    rules = {
        r.kind: (r.points, r.min_amount, r.cap, r.cap_period, r.cap_group)
        for r in EarningRule.objects.all()
    }
    assert rules == {
        "shopping": (5, 2, 5, "day", ""),
        "category_bonus": (1, None, 3, "day", ""),
        "review": (1, None, 10, "month", "fan"),
        "visit": (1, None, 10, "month", "fan"),
        "club_post": (2, None, 10, "month", ""),
    }
    EarningRule.objects.filter(kind="shopping").update(points=7)
    again = io.StringIO()
    call_command("load_program", "aliexpress", stdout=again)
    assert "everything was already loaded" in again.getvalue()
    assert EarningRule.objects.get(kind="shopping").points == 7
    assert EarningRule.objects.count() == 5


def test_expire_task_uses_the_given_day_and_is_safe_twice(member: object) -> None:
    points_award(
        member_id=member.pk,  # type: ignore[attr-defined]
        points=4,
        reason="x",
        occurred_at=datetime(2025, 5, 1, 12, tzinfo=ZoneInfo("UTC")),
    )
    assert expire_points("2026-04-30") == 0
    assert expire_points("2026-05-01") == 1
    assert expire_points("2026-05-01") == 0
    assert PointEntry.objects.filter(kind="expire").count() == 1


def test_caps_count_in_the_program_time_zone(member: object) -> None:
    from decimal import Decimal

    from loyalty.earning import OrderReceived, events_apply
    from members.services import api_key_create

    program = Program.load()
    program.time_zone = "Asia/Shanghai"
    program.backdating_days = 3650  # the story is dated March 2026
    program.save()
    call_command("load_program", "aliexpress", stdout=io.StringIO())
    rule = EarningRule.objects.get(kind="shopping")
    shanghai = ZoneInfo("Asia/Shanghai")
    # 23:30 on 1 March in Shanghai is 15:30 UTC; 00:30 on 2 March is 16:30 UTC, the same UTC day.
    points_award(
        member_id=member.pk,  # type: ignore[attr-defined]
        points=5,
        reason="x",
        occurred_at=datetime(2026, 3, 1, 23, 30, tzinfo=shanghai),
        rule_id=rule.pk,
    )

    def order(key: str, at: datetime) -> OrderReceived:
        return OrderReceived(
            key=key,
            member_number=member.number,  # type: ignore[attr-defined]
            occurred_at=at,
            number=f"SO-{key}",
            amount=Decimal("12.50"),
            currency="USD",
            categories=(),
            digest=key,
        )

    # the same local day: the cap is used up; the next local day: a fresh cap
    same_day, next_day = events_apply(
        api_key=api_key_create(name="shop")[0],
        events=[
            order("a", datetime(2026, 3, 1, 23, 50, tzinfo=shanghai)),
            order("b", datetime(2026, 3, 2, 0, 30, tzinfo=shanghai)),
        ],
    )
    assert same_day.answer["points"] == 0  # type: ignore[union-attr]
    assert next_day.answer["points"] == 5  # type: ignore[union-attr]


def test_program_load_answers_one_snapshot_until_the_row_changes() -> None:
    Program.load()  # the row is made on first use (its INSERT moves the version)
    pinned = Program.load()
    assert Program.load() is pinned  # memoised in this process under the settings' version
    assert Program.load() is pinned
    program = Program.load()
    program.backdating_days = 30
    program.save()
    assert Program.load().backdating_days == 30
