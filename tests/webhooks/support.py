"""Shared by the webhooks tests: a real HTTP receiver on 127.0.0.1 (a thread) that verifies every request it gets with the
`standardwebhooks` package (an independent implementation of the format, not ours)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from django.db import transaction
from standardwebhooks import Webhook, WebhookVerificationError

from core import outbox
from core.models import OutboxEvent
from members.models import ApiKey
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next of `statuses` (then 200), after `delay` seconds;
    verifies it with `secret` (standardwebhooks) first."""

    port: int = 0
    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [r.id for r in self.received]


def handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(receiver.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            receiver.received.append(Received(headers, body, verified))
            receiver.arrived.set()
            time.sleep(receiver.delay)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if not verified:
                status = 400
            answer = b'{"ok": true}' if status < 300 else b"not now"
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the sender gave up waiting (a timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def make_endpoint(owner: ApiKey, receiver: Receiver, **kwargs: Any) -> WebhookEndpoint:
    endpoint, secret = endpoint_create(owner=owner, url=kwargs.pop("url", receiver.url), **kwargs)
    receiver.secret = secret
    return endpoint


def record(event_type: str, member_id: int | None = 7, **data: Any) -> OutboxEvent:
    """Record an event and hand it to the subscribers, as the dispatcher does."""
    with transaction.atomic():
        event = outbox.emit(
            event_type,
            data or {"to": "gold"},
            member_id=member_id,
            subject={"member": f"{member_id or 0:010d}"},
        )
    outbox.dispatch()
    return event
