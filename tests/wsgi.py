"""Requests through the project's WSGI application, as a server makes them (with its own
connection handling and signals, which Django's test client does not go through)."""

from __future__ import annotations

import json
from typing import Any

from django.test import RequestFactory


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def post(app: Any, path: str, body: Any, key: str | None, **extra: str) -> Answer:
    """POST `body` (bytes, or JSON-encoded) to `app` with the API key `key`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key is not None:
        extra.setdefault("HTTP_AUTHORIZATION", f"Api-Key {key}")
    environ = RequestFactory().post(path, data, "application/json", **extra).environ
    seen: list[Any] = []
    chunks = app(environ, lambda status, headers, *exc: seen.extend([status, headers]))
    try:
        payload = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()  # sends request_finished, as a server does
    return Answer(seen[0], seen[1], payload)
