"""The outbox's subscriber for webhooks: a message per (active endpoint subscribed to the
type, event), set-based, then a sender per endpoint queued after the commit.

Who may get what is in the statement: an integration's endpoint (API key) only the member
program's types; a partner company's endpoint only the partner types, and only the events
whose subject is the company itself."""

from __future__ import annotations

from django.db import connection

from core.models import OutboxEvent

from .services import OWNER_SCOPE_SQL, owner_scope_params, senders_queue_after_commit

_ENQUEUE_SQL = f"""
INSERT INTO webhooks_webhookmessage (endpoint_id, event_id, member_id, member_seq, status,
                                     attempts, next_attempt_at, created_at)
SELECT w.id, e.id, e.member_id, e.member_seq, 'pending', 0, now(), now()
FROM core_outboxevent e
JOIN webhooks_webhookendpoint w
  ON w.active AND (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))
  AND {OWNER_SCOPE_SQL}
WHERE e.id = ANY(%(events)s)
ORDER BY e.id, w.id
ON CONFLICT (endpoint_id, event_id) DO NOTHING
RETURNING endpoint_id
"""  # noqa: S608 (constant SQL; the values are parameters)


def enqueue(events: list[OutboxEvent]) -> None:
    """Idempotent (one message per endpoint and event, a unique key); runs in the
    dispatcher's transaction, so the messages commit with the delivery's "done"."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ENQUEUE_SQL,
            {"events": [e.pk for e in events], **owner_scope_params()},
        )
        endpoints = {row[0] for row in cursor.fetchall()}
    senders_queue_after_commit(endpoints)
