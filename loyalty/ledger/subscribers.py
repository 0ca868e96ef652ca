"""What the ledger does when other parts of the program report an event (core.outbox)."""

from __future__ import annotations

from core.models import OutboxEvent
from loyalty.ledger.services import account_open


def account_open_for_new_member(events: list[OutboxEvent]) -> None:
    """member.created: open each member's account (idempotent; the ledger also opens one on
    first use, so a member is never without points for want of this)."""
    for event in events:
        assert event.member_id is not None
        account_open(member_id=event.member_id)
