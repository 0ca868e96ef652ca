from __future__ import annotations

from typing import Any

from django import template

from loyalty.ledger.reasons import localize
from loyalty.ledger.selectors import member_account, member_points_expiring

register = template.Library()


@register.simple_tag
def points_summary(member: Any) -> dict[str, Any]:
    """The balance and the next expiry of a member, for the dashboard card."""
    account = member_account(member)
    balance = account.balance if account is not None else 0
    return {"balance": balance, "expiring": member_points_expiring(member)}


@register.filter
def reason(text: str) -> str:
    """A stored point reason in the reader's language (`loyalty.reasons`)."""
    return localize(text)
