"""Every write of webhooks but the sending itself (webhooks.delivery): endpoints, their
secrets, replays and resends.

An endpoint belongs to an integration (an API key: the member program's event types) or to a
partner company (the partner event types whose subject is the company); the statements that
write messages (the subscriber's, the replay's) say so in SQL (OWNER_SCOPE_SQL)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.outbox import event_id_floor
from core.queue import task_queue
from members.models import ApiKey, Member
from partners.models import Provider

from . import signing
from .models import (
    EVENT_TYPES,
    PARTNER_EVENT_TYPES,
    WebhookEndpoint,
    WebhookMessage,
    event_types_for,
)

log = logging.getLogger(__name__)

SEND_TASK = "webhooks.send_endpoint"
ROTATION_OVERLAP = timedelta(hours=24)

# Which (endpoint w, event e) pairs may meet at all (with owner_scope_params): an API key's
# endpoint the member program's types, a company's endpoint its own partner events.
OWNER_SCOPE_SQL = """
((w.owner_id IS NOT NULL AND e.type = ANY(%(member_types)s))
 OR (w.provider_id IS NOT NULL AND e.type = ANY(%(partner_types)s)
     AND e.subject->>'provider' = w.provider_id::text))
"""


def owner_scope_params() -> dict[str, Any]:
    return {"member_types": EVENT_TYPES, "partner_types": PARTNER_EVENT_TYPES}


class EventTypesRefused(ValueError):
    """Event types that this kind of owner may not subscribe to."""

    def __init__(self, refused: list[str]) -> None:
        self.refused = refused
        super().__init__(", ".join(refused))


def _event_types(types: Iterable[str], *, partner: bool) -> list[str]:
    wanted = list(dict.fromkeys(types))
    allowed = event_types_for(partner=partner)
    refused = [t for t in wanted if t not in allowed]
    if refused:
        raise EventTypesRefused(refused)
    return wanted


def senders_queue_after_commit(endpoint_ids: Iterable[int]) -> None:
    """Queue a sender per endpoint once the current transaction commits (a lost one is
    found by beat's sweep within a minute)."""
    ids = sorted(set(endpoint_ids))
    if not ids:
        return

    def queue() -> None:
        for endpoint_id in ids:
            task_queue(SEND_TASK, endpoint_id)

    transaction.on_commit(queue, robust=True)


@transaction.atomic
def endpoint_create(
    *,
    owner: ApiKey | None = None,
    provider: Provider | None = None,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of an API key or of a partner company (exactly one) and its secret
    (shown once: only its encrypted form is kept). Refused (EventTypesRefused) with a type
    that kind of owner may not have."""
    if (owner is None) == (provider is None):
        raise ValueError("an endpoint has exactly one owner: an API key or a company")
    secret = signing.secret_new()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        provider=provider,
        url=url,
        description=description,
        event_types=_event_types(event_types, partner=provider is not None),
        secret_encrypted=signing.encrypt(secret),
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
) -> WebhookEndpoint:
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if event_types is not None:
        endpoint.event_types = _event_types(event_types, partner=endpoint.is_partners)
    endpoint.save(update_fields=["url", "description", "event_types"])
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Forget the endpoint, its messages and their attempts."""
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, overlap: timedelta = ROTATION_OVERLAP
) -> str:
    """A new secret; the current one keeps signing beside it for `overlap`."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = signing.secret_new()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_expires_at = timezone.now() + overlap
    locked.secret_encrypted = signing.encrypt(secret)
    locked.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
        ]
    )
    endpoint.refresh_from_db()
    return secret


@transaction.atomic
def endpoint_disable(*, endpoint_id: int, reason: str, notify: bool = False) -> bool:
    """Stop sending to the endpoint (its messages wait); with `notify`, its owner and staff
    are emailed after the commit. False when it was already disabled."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).update(
        active=False, disabled_reason=reason[:200], disabled_at=timezone.now()
    )
    if changed and notify:
        transaction.on_commit(lambda: _notify_disabled(endpoint_id), robust=True)
    return bool(changed)


@transaction.atomic
def endpoint_enable(*, endpoint_id: int) -> bool:
    """Send to the endpoint again: its pending messages are due now."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, active=False).update(
        active=True, disabled_reason="", disabled_at=None
    )
    if changed:
        WebhookMessage.objects.filter(
            endpoint_id=endpoint_id, status=WebhookMessage.Status.PENDING
        ).update(next_attempt_at=timezone.now())
        senders_queue_after_commit([endpoint_id])
    return bool(changed)


class ReplayRefused(Exception):
    """A replay's start refused, with a stable code (the API's) and why, for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def replay_since_check(since: datetime, *, now: datetime | None = None) -> None:
    """Refuse a replay's start in the future (the outbox keeps every event: no start is too
    old)."""
    if since > (now or timezone.now()):
        raise ReplayRefused("replay_since_in_the_future", _("The start is in the future."))


# The events since: bounded by their ids (core.outbox.event_id_floor: a range of the unique
# index of event ids, not a scan of the whole table), then exactly by `occurred_at`. A
# message already there is made due again (replaying twice adds nothing); its member and
# sequence are the event's, so a member's replayed messages go out in their order.
_REPLAY_SQL = f"""
INSERT INTO webhooks_webhookmessage (endpoint_id, event_id, member_id, member_seq, status,
                                     attempts, next_attempt_at, created_at)
SELECT w.id, e.id, e.member_id, e.member_seq, 'pending', 0, now(), now()
FROM core_outboxevent e JOIN webhooks_webhookendpoint w ON w.id = %(endpoint)s
WHERE e.event_id >= %(floor)s AND e.occurred_at >= %(since)s
  AND (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))
  AND {OWNER_SCOPE_SQL}
ORDER BY e.id
ON CONFLICT (endpoint_id, event_id) DO UPDATE
SET status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
"""  # noqa: S608 (constant SQL; the values are parameters)


@transaction.atomic
def endpoint_replay(*, endpoint_id: int, since: datetime) -> int:
    """Send again every event of the endpoint's types that occurred since `since` (with the
    same webhook-id as before); how many messages are due. Raises ReplayRefused for a start
    in the future."""
    replay_since_check(since)
    with connection.cursor() as cursor:
        cursor.execute(
            _REPLAY_SQL,
            {
                "endpoint": endpoint_id,
                "floor": event_id_floor(since),
                "since": since,
                **owner_scope_params(),
            },
        )
        count = cursor.rowcount
    senders_queue_after_commit([endpoint_id])
    return count


@transaction.atomic
def messages_resend(*, message_ids: Iterable[int]) -> int:
    """Send these messages again now, with the same webhook-id (delivered and failed ones
    included); how many."""
    ids = list(message_ids)
    count = WebhookMessage.objects.filter(pk__in=ids).update(
        status=WebhookMessage.Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        delivered_at=None,
    )
    senders_queue_after_commit(
        WebhookMessage.objects.filter(pk__in=ids).values_list("endpoint_id", flat=True)
    )
    return count


def _notify_disabled(endpoint_id: int) -> None:
    """Email the endpoint's owner (who created its API key, or the people of its company)
    and staff. Runs after the commit that disabled it; never raises."""
    try:
        endpoint = WebhookEndpoint.objects.select_related("owner__created_by", "provider").get(
            pk=endpoint_id
        )
        to = set(
            Member.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True)
        )
        values = {"url": endpoint.url, "reason": endpoint.disabled_reason}
        if endpoint.provider is not None:
            to.update(
                Member.objects.filter(
                    partner_membership__provider=endpoint.provider, is_active=True
                ).values_list("email", flat=True)
            )
            body = _(
                "Webhooks are no longer sent to %(url)s (partner company %(company)s): "
                "%(reason)s\n\n"
                "Its messages wait. Enable the endpoint in the partner portal (Webhooks) to "
                "send them."
            ) % {**values, "company": endpoint.provider.legal_name}
        else:
            if endpoint.owner is not None and endpoint.owner.created_by is not None:
                to.add(endpoint.owner.created_by.email)
            body = _(
                "Webhooks are no longer sent to %(url)s (API key %(key)s): %(reason)s\n\n"
                "Its messages wait. Enable the endpoint in the admin to send them."
            ) % {**values, "key": endpoint.owner}
        if not to:
            return
        send_mail(
            _("Webhook endpoint disabled: %(url)s") % {"url": endpoint.url},
            body,
            settings.DEFAULT_FROM_EMAIL,
            sorted(to),
        )
    except Exception:
        log.exception("webhooks: could not email that endpoint %s was disabled", endpoint_id)
