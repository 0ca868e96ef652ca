"""Celery finds the outbox's task here (core.outbox keeps it beside the dispatcher)."""

from .outbox import outbox_dispatch_task

__all__ = ["outbox_dispatch_task"]
