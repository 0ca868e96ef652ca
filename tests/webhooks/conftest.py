"""Fixtures of the webhooks tests: a real HTTP receiver on 127.0.0.1 (tests.webhooks.support),
an owner, the senders queued after a commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from members.models import ApiKey
from members.services import api_key_create
from tests.factories import MemberFactory
from webhooks.models import EVENT_TYPES

from .support import Receiver, handler


@pytest.fixture
def make_receiver() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def make() -> Receiver:
        receiver = Receiver()
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler(receiver))
        server.daemon_threads = True
        receiver.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return receiver

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(make_receiver: Any) -> Receiver:
    return make_receiver()


@pytest.fixture
def queued(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """The senders the subscriber queues after its commit (recorded, not sent to a broker:
    the tests run the sender themselves)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "webhooks.services.task_queue", lambda name, *args: calls.append((name, args))
    )
    return calls


@pytest.fixture
def only_webhooks(settings: Any) -> None:
    """Every event type goes to the webhooks' subscriber alone (the other subscribers would
    act on these made-up events)."""
    settings.OUTBOX_SUBSCRIBERS = {t: ["webhooks.subscribers.enqueue"] for t in EVENT_TYPES}


@pytest.fixture
def owner(db: Any) -> ApiKey:
    return api_key_create(name="shop", created_by=MemberFactory(email="owner@example.com"))[0]
