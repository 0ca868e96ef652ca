"""Kill drill of the webhooks' sender: a real worker process, SIGKILLed after the receiver
answered and before the answers were recorded. The broker delivers the sender's task again to
a new worker, which sends the same events again with the same `webhook-id`s: nothing is lost,
each message ends delivered once, and only the recorded tries are in the database. The
killed worker's session lock on the endpoint goes with its connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from django.db import transaction

from core import outbox
from members.services import api_key_create
from tests.factories import MemberFactory
from tests.webhooks.support import Receiver, handler, make_endpoint
from webhooks.models import EVENT_TYPES, WebhookAttempt, WebhookMessage

from .conftest import Drill

SEND = "webhooks.send_endpoint"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield receiver
    server.shutdown()
    server.server_close()


def test_drill_sender_killed_between_the_answers_and_their_record(
    drill: Drill, receiver: Receiver, settings: object
) -> None:
    settings.OUTBOX_SUBSCRIBERS = {  # type: ignore[attr-defined]
        t: ["webhooks.subscribers.enqueue"] for t in EVENT_TYPES
    }
    owner = api_key_create(name="shop", created_by=MemberFactory())[0]
    endpoint = make_endpoint(owner, receiver)
    with transaction.atomic():
        events = [
            outbox.emit("tier.changed", {"n": n}, member_id=n + 1, subject={"member": str(n)})
            for n in range(3)
        ]
    outbox.dispatch()  # the webhooks' subscriber writes a message per event
    assert WebhookMessage.objects.filter(status="pending").count() == 3

    killed = drill.worker(pause="webhooks_record:1")
    drill.send(SEND, endpoint.pk)
    drill.wait_reached()  # the receiver has answered all three; nothing is recorded yet
    assert sorted(receiver.ids()) == sorted(str(e.event_id) for e in events)
    drill.kill(killed)
    assert WebhookAttempt.objects.count() == 0
    assert set(WebhookMessage.objects.values_list("status", "attempts")) == {("pending", 0)}

    drill.worker(visibility_timeout=2)  # the broker delivers the sender's task again
    drill.wait_done(SEND, 1)

    ids = receiver.ids()
    assert sorted(ids) == sorted(str(e.event_id) for e in events for _twice in range(2))
    assert all(r.verified for r in receiver.received)
    assert set(WebhookMessage.objects.values_list("status", "attempts")) == {("delivered", 1)}
    assert WebhookAttempt.objects.count() == 3  # the recorded tries: the second run's
    assert set(WebhookAttempt.objects.values_list("status_code", flat=True)) == {200}
