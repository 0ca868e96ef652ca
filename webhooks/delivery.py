"""The sender: one endpoint's due messages, one at a time, signed and POSTed.

One sender per endpoint at a time (a transaction-scoped advisory lock on the endpoint; a
second sender returns at once). Each message is sent and recorded in one transaction: the
attempt, the message's new state and "delivered" commit together, after the answer. A worker
killed between the answer and the commit leaves the message pending, as if it had never been
sent: it is sent again, with the same `webhook-id` (the outbox event's id), so the receiver
can tell the repeat. Webhooks are at least once.

Order: a member's messages reach an endpoint in the order of the member's events (their
sequence): a message waits while an earlier one of the same member is pending (in backoff
too). Events without a member, and different members' events, have no order.

The retry schedule (after the first try): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each
+-20 %; after the last failure the message is failed and the endpoint disabled, its owner and
staff emailed. A 2xx answer delivers; 410 Gone disables the endpoint (its messages wait)."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import OutboxEvent

from . import signing
from .models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from .safety import UnsafeUrl, url_check_delivery
from .selectors import endpoint_secrets, messages_due
from .services import endpoint_disable

log = logging.getLogger(__name__)

RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first try, then one per delay
_LOCK_BASE = 0x77656268 << 32  # "webh": the advisory lock of endpoint n is _LOCK_BASE + n
RESPONSE_BYTES = 4096  # read of the answer, of which WebhookAttempt.RESPONSE_KEPT are kept


def retry_delay(attempts: int) -> timedelta | None:
    """The wait after `attempts` failed tries (+-20 %), or None when the schedule is used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter)


def payload(event: OutboxEvent) -> bytes:
    """The request body: {"type", "timestamp", "data": the event's data and subject ids}."""
    body = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {**event.data, **event.subject},
    }
    return json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Answer:
    """What came of one try."""

    status_code: int | None = None
    latency_ms: int | None = None
    response: str = ""
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def endpoint_send(*, endpoint_id: int, limit: int = 1000) -> int:
    """Send the endpoint's due messages, up to `limit` tries; how many were tried. Returns 0
    at once while another sender holds the endpoint."""
    tried = 0
    while tried < limit and _send_next(endpoint_id):
        tried += 1
    return tried


def _send_next(endpoint_id: int) -> bool:
    """Try the endpoint's next due message; False when there is none (or another sender
    holds the endpoint, or it is disabled)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_BASE + endpoint_id])
            if not cursor.fetchone()[0]:
                return False
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).first()
        if endpoint is None:
            return False
        message = messages_due(endpoint_id).select_related("event").first()
        if message is None:
            return False
        answer = _post(endpoint, message)
        _record(endpoint, message, answer)
    return True


def _post(endpoint: WebhookEndpoint, message: WebhookMessage) -> Answer:
    """Sign and POST the message; what the receiver answered, or why nothing was sent."""
    try:
        url_check_delivery(endpoint.url)
    except UnsafeUrl as exc:
        return Answer(error=_("Not sent: %(reason)s") % {"reason": exc})
    body = payload(message.event)
    headers = signing.headers(
        endpoint_secrets(endpoint), str(message.event.event_id), int(time.time()), body
    )
    headers["content-type"] = "application/json"
    headers["user-agent"] = "MemberCenter-Webhooks/1"
    started = time.monotonic()
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOKS_CONNECT_TIMEOUT, settings.WEBHOOKS_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            text = response.raw.read(RESPONSE_BYTES, decode_content=True)
            status_code = response.status_code
    except (requests.RequestException, OSError) as exc:
        return Answer(latency_ms=_since(started), error=f"{type(exc).__name__}: {exc}"[:2000])
    kept = text.decode("utf-8", errors="replace").replace("\x00", "")
    return Answer(
        status_code=status_code,
        latency_ms=_since(started),
        response=kept[: WebhookAttempt.RESPONSE_KEPT],
    )


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(endpoint: WebhookEndpoint, message: WebhookMessage, answer: Answer) -> None:
    """Record the try and what it means for the message and the endpoint (in the sender's
    transaction: a worker killed before its commit leaves the message pending)."""
    now = timezone.now()
    WebhookAttempt.objects.create(
        message=message,
        at=now,
        status_code=answer.status_code,
        latency_ms=answer.latency_ms,
        response=answer.response,
        error=answer.error,
    )
    message.attempts += 1
    if answer.delivered:
        message.status = WebhookMessage.Status.DELIVERED
        message.delivered_at = now
    elif answer.status_code == 410:
        message.next_attempt_at = now
        endpoint_disable(
            endpoint_id=endpoint.pk,
            reason=_("The receiver answered 410 Gone."),
            notify=True,
        )
    else:
        delay = retry_delay(message.attempts)
        if delay is None:
            message.status = WebhookMessage.Status.FAILED
            endpoint_disable(
                endpoint_id=endpoint.pk,
                reason=_("Every try failed for %(count)s attempts.") % {"count": MAX_ATTEMPTS},
                notify=True,
            )
        else:
            message.next_attempt_at = now + delay
    message.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
