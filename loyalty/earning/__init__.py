"""Earning: every earning rule in one planner (`planner.py`), the I/O around it (`store.py`),
and the application of the shop's events and the member-center visit (`ingest.py`,
`visits.py`). docs/adr/0013-one-earning-engine.md."""

from .ingest import KeyRevoked, LedgerEvent, OrderNotFound, event_ingest, events_apply
from .planner import (
    ContributionPosted,
    EarningEvent,
    IdempotencyConflict,
    MemberNotFound,
    OrderExists,
    OrderReceived,
    Outcome,
    PostExists,
    ReviewExists,
    VisitMade,
)
from .visits import points_visit_award, visit_seen_key

__all__ = [
    "ContributionPosted",
    "EarningEvent",
    "IdempotencyConflict",
    "KeyRevoked",
    "LedgerEvent",
    "MemberNotFound",
    "OrderExists",
    "OrderNotFound",
    "OrderReceived",
    "Outcome",
    "PostExists",
    "ReviewExists",
    "VisitMade",
    "event_ingest",
    "events_apply",
    "points_visit_award",
    "visit_seen_key",
]
