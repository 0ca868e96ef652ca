from __future__ import annotations

from typing import Any

from django import template

from loyalty.selectors import points_balance, points_expiring

register = template.Library()


@register.simple_tag
def points_summary(member: Any) -> dict[str, Any]:
    """The balance and the next expiry of a member, for the dashboard card."""
    return {"balance": points_balance(member.pk), "expiring": points_expiring(member.pk)}
