"""The Celery app of a drill's worker subprocess (`celery -A tests.drills.worker_app worker`).

The project's app and tasks, plus two test-only hooks:
- DRILL_PAUSE=`point:n`: at the n-th time this process reaches `point`, write DRILL_DIR/reached
  and wait there for the SIGKILL the drill sends, so the kill lands exactly at that point.
  Points: `job_batch` (a staff job's batch is about to start: the one before has committed),
  `outbox_attempt` (the outbox's dispatcher has handed an event to a subscriber and marked the
  delivery done, in a transaction not yet committed), `email_send` (an email is about to
  leave, its notice stamped in a transaction not yet committed), `webhooks_record` (a
  webhooks sender has its batch's answers and is about to record them).
- while a task runs, its id is in DRILL_DIR/running-<pid> (a killed worker's unacknowledged
  task, which the drill hands back on the filesystem broker: tests/drills/conftest.py);
  after every task, its name is appended to DRILL_DIR/done.log (the drill waits on it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.drills.worker_settings"

import django  # noqa: E402

django.setup()

from celery.signals import task_postrun, task_prerun  # noqa: E402
from django.core.mail import EmailMessage  # noqa: E402

from benefits.coupons import services as benefits_services  # noqa: E402
from config.celery import app  # noqa: E402
from core import outbox  # noqa: E402
from webhooks import delivery  # noqa: E402

DIR = Path(os.environ["DRILL_DIR"])
point, _, nth = os.environ.get("DRILL_PAUSE", "").partition(":")
reached: dict[str, int] = {}


def _pausing(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reached[name] = reached.get(name, 0) + 1
        if name == point and reached[name] == int(nth):
            (DIR / "reached").write_text(name)
            while True:  # the drill kills this process here
                time.sleep(1)
        return real(*args, **kwargs)

    return wrapper


def _after(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """Pause right after `real` returns (still inside its caller's transaction)."""
    pause = _pausing(name, lambda *_a, **_k: None)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        pause()
        return result

    return wrapper


benefits_services._job_batch = _pausing("job_batch", benefits_services._job_batch)  # type: ignore[assignment]
outbox._attempt = _after("outbox_attempt", outbox._attempt)  # type: ignore[assignment]
EmailMessage.send = _pausing("email_send", EmailMessage.send)  # type: ignore[method-assign]
delivery._record = _pausing("webhooks_record", delivery._record)  # type: ignore[assignment]


RUNNING = DIR / f"running-{os.getpid()}"


@task_prerun.connect
def _running(task_id: str = "", **_kwargs: Any) -> None:
    RUNNING.write_text(task_id)


@task_postrun.connect
def _done(sender: Any = None, **_kwargs: Any) -> None:
    RUNNING.unlink(missing_ok=True)
    with (DIR / "done.log").open("a") as log:
        log.write(f"{sender.name}\n")


__all__ = ["app"]
