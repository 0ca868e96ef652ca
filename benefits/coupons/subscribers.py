"""What coupons do when other parts of the program report an event (core.outbox)."""

from __future__ import annotations

from datetime import date

from benefits.coupons.services import levelup_reward_issue
from core.models import OutboxEvent


def levelup_reward(events: list[OutboxEvent]) -> None:
    """tier.changed: a promotion earns the level-up coupon of the new tier, once per member,
    tier and period (the coupon's unique key: a second hand-over issues nothing)."""
    for event in events:
        data = event.data
        if data["direction"] != "up" or event.member_id is None:
            continue
        levelup_reward_issue(
            member_id=event.member_id,
            tier_id=int(data["to"]["id"]),
            period=date.fromisoformat(data["period"]),
        )
