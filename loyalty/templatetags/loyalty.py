from __future__ import annotations

from typing import Any

from django import template

from loyalty.selectors import account_state, points_expiring

register = template.Library()


@register.simple_tag
def points_summary(member: Any) -> dict[str, Any]:
    """The balance and the next expiry of a member, for the dashboard card."""
    balance, _tier_id = account_state(member)  # one query, shared with the other cards
    return {"balance": balance, "expiring": points_expiring(member.pk)}
