"""Reads shared by the sender, the admin, the API and the partner portal's pages."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from core.outbox import members_turn
from members.models import ApiKey
from partners.models import Provider

from . import signing
from .models import WebhookAttempt, WebhookEndpoint, WebhookMessage

ATTEMPTS_SHOWN = 100  # a message's newest attempts in the API


def endpoints_of(api_key: ApiKey) -> QuerySet[WebhookEndpoint]:
    """An integration's own endpoints (another key's are not found)."""
    return WebhookEndpoint.objects.filter(owner=api_key).order_by("-id")


def endpoints_of_provider(provider: Provider) -> QuerySet[WebhookEndpoint]:
    """A partner company's own endpoints (another company's are not found)."""
    return WebhookEndpoint.objects.filter(provider=provider).order_by("-id")


def endpoint_messages(endpoint: WebhookEndpoint) -> QuerySet[WebhookMessage]:
    return WebhookMessage.objects.filter(endpoint=endpoint).select_related("event")


def endpoint_messages_with_attempts(endpoint: WebhookEndpoint) -> QuerySet[WebhookMessage]:
    """The endpoint's messages, newest first, each with its attempts (newest first): one
    query for a page of messages, one for their attempts."""
    return (
        endpoint_messages(endpoint)
        .order_by("-id")
        .prefetch_related(
            Prefetch("attempts_made", queryset=WebhookAttempt.objects.order_by("-id"))
        )
    )


def endpoint_message(endpoint: WebhookEndpoint, message_id: int) -> WebhookMessage | None:
    """One of the endpoint's messages (another endpoint's is not found)."""
    return endpoint_messages(endpoint).filter(pk=message_id).first()


def message_attempts(message: WebhookMessage) -> QuerySet[WebhookAttempt]:
    """The message's attempts, newest first."""
    return WebhookAttempt.objects.filter(message=message).order_by("-at", "-id")


def endpoint_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    found = [signing.decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > timezone.now():
        found.append(signing.decrypt(endpoint.previous_secret_encrypted))
    return found


def messages_due(endpoint_id: int) -> QuerySet[WebhookMessage]:
    """The endpoint's messages to send now, oldest due first (the due index's order,
    webhook_message_due: a LIMIT stops early); a member's message waits while an earlier one
    of the same member (lower sequence) is still pending (core.outbox.members_turn)."""
    pending = WebhookMessage.objects.filter(status=WebhookMessage.Status.PENDING)
    return pending.filter(
        members_turn(pending, "endpoint_id"),
        endpoint_id=endpoint_id,
        next_attempt_at__lte=timezone.now(),
    ).order_by("next_attempt_at", "id")


def endpoints_with_due_messages() -> list[int]:
    due = WebhookMessage.objects.filter(
        endpoint_id=OuterRef("pk"),
        status=WebhookMessage.Status.PENDING,
        next_attempt_at__lte=timezone.now(),
    )
    return list(
        WebhookEndpoint.objects.filter(Exists(due), active=True).values_list("pk", flat=True)
    )
