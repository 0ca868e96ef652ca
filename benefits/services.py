"""Every write to benefits and coupons goes through these functions."""

from __future__ import annotations

from datetime import date


def levelup_reward_issue(*, member_id: int, tier_id: int, period: date) -> None:
    """Issue the level-up reward for a promotion into `tier_id` in `period`.

    Called by the tier job after commit, once per promotion. The coupons issue implements it
    (once per member per tier per period, enforced by a unique constraint); until then it does
    nothing.
    """
