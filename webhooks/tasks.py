"""Thin tasks: a sender per endpoint, and beat's sweep for what is due."""

from __future__ import annotations

from celery import shared_task

from .delivery import endpoint_send
from .selectors import endpoints_with_due_messages


@shared_task(name="webhooks.send_endpoint")
def send_endpoint(endpoint_id: int) -> int:
    """Send an endpoint's due messages (returns at once while another sender holds it)."""
    return endpoint_send(endpoint_id=endpoint_id)


@shared_task(name="webhooks.send_due")
def send_due() -> int:
    """Beat, every minute: a sender for each active endpoint with a message due (retries in
    backoff, a lost wake-up)."""
    endpoints = endpoints_with_due_messages()
    for endpoint_id in endpoints:
        send_endpoint.delay(endpoint_id)
    return len(endpoints)
