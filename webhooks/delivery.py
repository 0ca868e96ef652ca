"""The sender: one endpoint's due messages, in batches, signed and POSTed one after another
over a kept-alive connection (webhooks.transport), outside any transaction.

One sender per endpoint at a time: a session-level advisory lock on the endpoint, held for
the run and released at its end (or when a killed worker's connection closes); a second
sender returns at once, and the holder looks again after letting go, so a message committed
while it was finishing is not left for beat's sweep. A batch is read, sent, then recorded in
one transaction: the attempts, the messages' new states and "delivered" commit together after
the answers. A worker killed between an answer and that commit leaves the message pending, as
if it had never been sent: it is sent again, with the same `webhook-id` (the outbox event's
id), so the receiver can tell the repeat. Webhooks are at least once. A message changed
meanwhile (resent, replayed) keeps its new state: the record is a guarded update.

A batch holds at most one message per member (the member's earliest pending one), so order
needs no more than that: a member's messages reach an endpoint in the order of the member's
events (their sequence); a message waits while an earlier one of the same member is pending
(in backoff too). Events without a member, and different members' events, have no order. A
batch stops at a receiver that cannot be reached or times out (the next message would only
wait as long), or that answers 410; a run ends after RUN_SECONDS and queues the next one, so
two busy endpoints share the workers.

The retry schedule (after the first try): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each
+-20 %; after the last failure the message is failed and the endpoint disabled, its owner and
staff emailed. A 2xx answer delivers; 410 Gone disables the endpoint (its messages wait)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import OutboxEvent

from . import signing
from .models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from .safety import UnsafeUrl
from .selectors import endpoint_secrets, messages_due
from .services import endpoint_disable, senders_queue_after_commit
from .transport import Client, Target, target_for

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
BATCH = 100  # messages read, sent and recorded together
RUN_SECONDS = 1.0  # a run's length before it queues the next and gives its worker back


def retry_delay(attempts: int) -> timedelta | None:
    """The wait after `attempts` failed tries (+-20 %), or None when the schedule is used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter)


def payload(event: OutboxEvent) -> bytes:
    """The request body: {"type", "timestamp", "data"}, the data being the event's data and
    then those of its subject's ids that the data does not carry under the same name. The
    data wins a shared name: it holds the subject's id there, or more (a coupon's `template`
    is the template's `{"id", "name"}`), so nothing is lost."""
    data = dict(event.data)
    for name, value in event.subject.items():
        data.setdefault(name, value)
    body = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
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

    @property
    def unreachable(self) -> bool:
        """No answer at all (refused, timed out, not sent): the next message would fare
        the same."""
        return self.status_code is None


def endpoint_send(*, endpoint_id: int, limit: int = 10_000) -> int:
    """Send the endpoint's due messages, up to `limit` tries; how many were tried. Returns 0
    at once while another sender holds the endpoint. A run that stops with messages still
    due (its time is up, or `limit`) queues the next sender."""
    tried = 0
    client = Client()
    try:
        while True:
            with _endpoint_held(endpoint_id) as held:
                if not held:
                    return tried
                started, state = time.monotonic(), MORE
                while state == MORE and tried < limit:
                    if time.monotonic() - started >= RUN_SECONDS:
                        break
                    sent, state = _send_batch(endpoint_id, client, limit - tried)
                    tried += sent
            if state == STOPPED:
                return tried
            if state == MORE:  # time or `limit` is up, messages are still due
                senders_queue_after_commit([endpoint_id])
                return tried
            # Nothing was due. Let go, then look again: a message committed while this run
            # was finishing found the endpoint held, and its sender left.
            if not messages_due(endpoint_id).filter(endpoint__active=True).exists():
                return tried
    finally:
        client.close()


@contextmanager
def _endpoint_held(endpoint_id: int) -> Iterator[bool]:
    """The endpoint's session-level advisory lock for the block (False: another has it)."""
    key = _LOCK_BASE + endpoint_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


MORE, EMPTY, STOPPED = "more", "empty", "stopped"  # after a batch: go on, none due, stop


def _send_batch(endpoint_id: int, client: Client, limit: int) -> tuple[int, str]:
    """Send one batch of due messages and record it: (tries, what next). STOPPED: the
    receiver could not be reached, answered 410, or the endpoint is disabled."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).first()
    if endpoint is None:
        return 0, STOPPED
    batch = list(messages_due(endpoint_id).select_related("event")[: min(BATCH, limit)])
    if not batch:
        return 0, EMPTY
    secrets = endpoint_secrets(endpoint)
    # Resolved and checked once a batch: the batch's connections go to that address.
    try:
        target: Target | Answer = target_for(endpoint.url)
    except UnsafeUrl as exc:
        target = Answer(error=_("Not sent: %(reason)s") % {"reason": exc})
    answers: list[tuple[WebhookMessage, Answer]] = []
    for message in batch:
        answer = target if isinstance(target, Answer) else _post(client, target, secrets, message)
        answers.append((message, answer))
        if answer.unreachable or answer.status_code == 410:
            break
    _record(endpoint, answers)
    last = answers[-1][1]
    return len(answers), STOPPED if last.unreachable or last.status_code == 410 else MORE


def _post(client: Client, target: Target, secrets: list[str], message: WebhookMessage) -> Answer:
    """Sign and POST the message; what the receiver answered, or why nothing came."""
    body = payload(message.event)
    headers = signing.headers(secrets, str(message.event.event_id), int(time.time()), body)
    headers["content-type"] = "application/json"
    headers["user-agent"] = "MemberCenter-Webhooks/1"
    started = time.monotonic()
    try:
        status_code, text = client.post(target, body, headers)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Answer(latency_ms=_since(started), error=f"{type(exc).__name__}: {exc}"[:2000])
    kept = text.decode("utf-8", errors="replace").replace("\x00", "")
    return Answer(
        status_code=status_code,
        latency_ms=_since(started),
        response=kept[: WebhookAttempt.RESPONSE_KEPT],
    )


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


_RECORD_SQL = """
UPDATE webhooks_webhookmessage m
SET attempts = m.attempts + 1, status = u.status, delivered_at = u.delivered_at,
    next_attempt_at = u.next_attempt_at
FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
    AS u(id, status, delivered_at, next_attempt_at, seen_next)
WHERE m.id = u.id AND m.status = 'pending' AND m.next_attempt_at = u.seen_next
"""


def _record(endpoint: WebhookEndpoint, answers: list[tuple[WebhookMessage, Answer]]) -> None:
    """Record the tries and what they mean for the messages and the endpoint, in one
    transaction after the answers (a worker killed before its commit leaves the messages
    pending). A message resent or replayed since it was read keeps that state."""
    now = timezone.now()
    disable = ""
    rows: list[tuple[int, str, datetime | None, datetime, datetime]] = []
    for message, answer in answers:
        status, delivered_at, next_at = WebhookMessage.Status.PENDING, None, message.next_attempt_at
        if answer.delivered:
            status, delivered_at = WebhookMessage.Status.DELIVERED, now
        elif answer.status_code == 410:
            next_at = now
            disable = _("The receiver answered 410 Gone.")
        else:
            delay = retry_delay(message.attempts + 1)
            if delay is None:
                status = WebhookMessage.Status.FAILED
                disable = _("Every try failed for %(count)s attempts.") % {"count": MAX_ATTEMPTS}
            else:
                next_at = now + delay
        rows.append((message.pk, status, delivered_at, next_at, message.next_attempt_at))
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                message=message,
                at=now,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                response=answer.response,
                error=answer.error,
            )
            for message, answer in answers
        )
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SQL, [list(column) for column in zip(*rows, strict=True)])
        if disable:
            endpoint_disable(endpoint_id=endpoint.pk, reason=disable, notify=True)
