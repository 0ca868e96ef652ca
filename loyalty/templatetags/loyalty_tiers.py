"""`{% member_tier_status member as status %}`: lets the dashboard's tier card fetch its own
data, so the dashboard view needs no change for it."""

from __future__ import annotations

from django import template

from loyalty.tiers.selectors import TierStatus, member_tier_status
from members.models import Member

register = template.Library()


@register.simple_tag(name="member_tier_status")
def member_tier_status_for(member: Member) -> TierStatus:
    return member_tier_status(member)
