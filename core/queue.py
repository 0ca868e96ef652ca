"""Queue a Celery task by its name: a service that schedules work needs no import of the tasks
module that calls it back (which would make the two modules import each other)."""

from __future__ import annotations

from typing import Any

from celery import current_app


def task_queue(name: str, *args: Any, **kwargs: Any) -> None:
    """Send task `name` (its registered name) with these arguments. Honours
    `task_always_eager`, like `.delay()`: the tasks modules are imported first if this process
    has not yet (autodiscovery; a worker imports them when it starts), so the task is known."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    current_app.signature(name, args=args, kwargs=kwargs).delay()
