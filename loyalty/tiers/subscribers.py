"""What tiers do when other parts of the program report an event (core.outbox)."""

from __future__ import annotations

from core.models import OutboxEvent
from loyalty.program.models import Program
from loyalty.tiers.services import tier_instant_upgrade


def instant_upgrade(events: list[OutboxEvent]) -> None:
    """points.earned: with `Program.instant_upgrade` on, each earning member's tier is checked
    at once (once per member in a batch; `tier_instant_upgrade` is safe to run twice); with it
    off, nothing happens."""
    if not Program.load().instant_upgrade:
        return
    for member_id in sorted({e.member_id for e in events if e.member_id is not None}):
        tier_instant_upgrade(member_id=member_id)
