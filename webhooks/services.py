"""Every write of webhooks but the sending itself (webhooks.delivery): endpoints, their
secrets, replays and resends."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.outbox import event_id_floor
from core.queue import task_queue
from members.models import ApiKey, Member

from . import signing
from .models import EVENT_TYPES, WebhookEndpoint, WebhookMessage

log = logging.getLogger(__name__)

SEND_TASK = "webhooks.send_endpoint"
ROTATION_OVERLAP = timedelta(hours=24)


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
    *, owner: ApiKey, url: str, description: str = "", event_types: Iterable[str] = ()
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once: only its encrypted form is kept)."""
    secret = signing.secret_new()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        url=url,
        description=description,
        event_types=list(dict.fromkeys(event_types)),
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
        endpoint.event_types = list(dict.fromkeys(event_types))
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
_REPLAY_SQL = """
INSERT INTO webhooks_webhookmessage (endpoint_id, event_id, member_id, member_seq, status,
                                     attempts, next_attempt_at, created_at)
SELECT w.id, e.id, e.member_id, e.member_seq, 'pending', 0, now(), now()
FROM core_outboxevent e JOIN webhooks_webhookendpoint w ON w.id = %s
WHERE e.event_id >= %s AND e.occurred_at >= %s AND e.type = ANY(%s)
  AND (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))
ORDER BY e.id
ON CONFLICT (endpoint_id, event_id) DO UPDATE
SET status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
"""


@transaction.atomic
def endpoint_replay(*, endpoint_id: int, since: datetime) -> int:
    """Send again every event of the endpoint's types that occurred since `since` (with the
    same webhook-id as before); how many messages are due. Raises ReplayRefused for a start
    in the future."""
    replay_since_check(since)
    with connection.cursor() as cursor:
        cursor.execute(_REPLAY_SQL, [endpoint_id, event_id_floor(since), since, EVENT_TYPES])
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
    """Email the endpoint's owner (who created its API key) and staff. Runs after the commit
    that disabled it; never raises."""
    try:
        endpoint = WebhookEndpoint.objects.select_related("owner__created_by").get(pk=endpoint_id)
        to = set(
            Member.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True)
        )
        if endpoint.owner.created_by is not None:
            to.add(endpoint.owner.created_by.email)
        if not to:
            return
        send_mail(
            _("Webhook endpoint disabled: %(url)s") % {"url": endpoint.url},
            _(
                "Webhooks are no longer sent to %(url)s (API key %(key)s): %(reason)s\n\n"
                "Its messages wait. Enable the endpoint in the admin to send them."
            )
            % {"url": endpoint.url, "key": endpoint.owner, "reason": endpoint.disabled_reason},
            settings.DEFAULT_FROM_EMAIL,
            sorted(to),
        )
    except Exception:
        log.exception("webhooks: could not email that endpoint %s was disabled", endpoint_id)
