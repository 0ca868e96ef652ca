"""Subscribers for the outbox's tests: each records what it handled as an event of its own
(a row written in the delivery's transaction, so exactly-once is countable). Each takes a
batch of events, as every subscriber does."""

from __future__ import annotations

from typing import Any

from core import outbox
from core.models import OutboxEvent

FAILURES: dict[str, int] = {}  # event id -> failures still to raise
BATCHES: list[int] = []  # the size of each batch handed to `echo`


def _handled(event: OutboxEvent, by: str) -> None:
    outbox.emit("test.handled", {"of": str(event.event_id), "by": by})


def echo(events: list[OutboxEvent]) -> None:
    BATCHES.append(len(events))
    for event in events:
        _handled(event, "echo")


def echo_too(events: list[OutboxEvent]) -> None:
    for event in events:
        _handled(event, "echo_too")


def flaky(events: list[OutboxEvent]) -> None:
    """Writes, then fails while FAILURES says so: the write must not survive a failure."""
    for event in events:
        _handled(event, "flaky")
        left = FAILURES.get(str(event.event_id), 0)
        if left:
            FAILURES[str(event.event_id)] = left - 1
            raise ConnectionError("the mail server is down")


def picky(events: list[OutboxEvent]) -> dict[int, Exception]:
    """Handles what it can and returns the rest with why (FAILURES, as `flaky`)."""
    failed: dict[int, Exception] = {}
    for event in events:
        left = FAILURES.get(str(event.event_id), 0)
        if left:
            FAILURES[str(event.event_id)] = left - 1
            failed[event.pk] = ValueError("no address")
        else:
            _handled(event, "picky")
    return failed


class Died(BaseException):
    """What a killed process looks like from inside: nothing after it runs."""


def dies(events: list[OutboxEvent]) -> Any:
    for event in events:
        _handled(event, "dies")
    raise Died
