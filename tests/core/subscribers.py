"""Subscribers for the outbox's tests: each records what it handled as an event of its own
(a row written in the delivery's transaction, so exactly-once is countable)."""

from __future__ import annotations

from typing import Any

from core import outbox
from core.models import OutboxEvent

FAILURES: dict[str, int] = {}  # event id -> failures still to raise


def echo(event: OutboxEvent) -> None:
    outbox.emit("test.handled", {"of": str(event.event_id), "by": "echo"})


def echo_too(event: OutboxEvent) -> None:
    outbox.emit("test.handled", {"of": str(event.event_id), "by": "echo_too"})


def flaky(event: OutboxEvent) -> None:
    """Writes, then fails while FAILURES says so: the write must not survive a failure."""
    outbox.emit("test.handled", {"of": str(event.event_id), "by": "flaky"})
    left = FAILURES.get(str(event.event_id), 0)
    if left:
        FAILURES[str(event.event_id)] = left - 1
        raise ConnectionError("the mail server is down")


class Died(BaseException):
    """What a killed process looks like from inside: nothing after it runs."""


def dies(event: OutboxEvent) -> Any:
    outbox.emit("test.handled", {"of": str(event.event_id), "by": "dies"})
    raise Died
