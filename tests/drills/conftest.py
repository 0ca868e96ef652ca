"""Kill drills: real Celery worker subprocesses killed with SIGKILL at a chosen point
(tests/drills/worker_app.py), on a broker that the test process (which sends the tasks) and
the workers share. They need nothing but Python, and are never skipped.

The broker:
- Without REDIS_URL: kombu's filesystem transport, its folders under the drill's tmp_path
  (`broker/queue`, `broker/control`, `broker/processed`), so every drill starts on an empty
  broker of its own.
- With REDIS_URL (CI): Redis, database 6 of the same server, the drills' alone: emptied before
  and after every drill. A Redis that does not answer fails the drill.

The late redelivery of a killed worker's task (`drill.worker(visibility_timeout=2)`):
- Redis keeps every delivered, unacknowledged message in its `unacked` hash. The new worker,
  whose visibility timeout is 2 s, looks at that hash every second and puts the killed
  worker's messages, older than 2 s, back on the queue (marked redelivered), where it takes
  them once it has finished what it had already taken: Redis itself redelivers.
- The filesystem transport cannot redeliver: a worker takes a message by moving its file out
  of the queue folder and holds it unacknowledged in its own memory only (kombu's virtual
  QoS), which gives it back only when the channel is closed cleanly. After a SIGKILL no process
  knows of the message any more. So the drill plays the broker's part, with the very same
  message: the transport keeps a copy of every message it hands out (`store_processed`, in
  `broker/processed`); the worker writes the id of the task it is running beside the drill
  (worker_app.py), and that task's message is the only one a killed worker holds
  unacknowledged (late acknowledgement and a prefetch of one); at the kill the drill sets that
  message aside, and when the test starts a worker with a visibility timeout shorter than the
  default hour, the drill moves the message's file back into the queue folder that many
  seconds later, at the end of the queue (after the tasks sent before then), its content as
  it was sent: the same task id, name, arguments and headers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_string
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VISIBILITY_TIMEOUT = 3600


class RedisBroker:
    """Database 6 of REDIS_URL's server; Redis redelivers a killed worker's messages."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.url = urlunsplit(urlsplit(redis_url)._replace(path="/6"))
        self.client = redis.Redis.from_url(self.url, socket_connect_timeout=2)
        try:
            self.client.ping()
        except redis.RedisError as error:
            pytest.fail(f"REDIS_URL is set, but Redis at {self.url} does not answer: {error}")
        self.client.flushdb()  # database 6 is the drills' alone

    def options(self, visibility_timeout: int) -> dict[str, Any]:
        return {
            "visibility_timeout": visibility_timeout,
            # look for unacknowledged messages past their timeout every second (default: ~100 s)
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }

    def killed(self, task_id: str) -> None:
        """Nothing to do: the message stays in Redis's `unacked` hash."""

    def redeliver(self, after: float) -> None:
        """Nothing to do: the new worker's visibility timeout brings the messages back."""

    def close(self) -> None:
        self.client.flushdb()
        self.client.close()


class FolderBroker:
    """kombu's filesystem transport under the drill's directory; it cannot redeliver a killed
    worker's message, so the drill moves the very same message file back into the queue."""

    url = "filesystem://localhost//"

    def __init__(self, directory: Path) -> None:
        self.queue = directory / "queue"
        self.control = directory / "control"
        self.processed = directory / "processed"
        for folder in (self.queue, self.control, self.processed):
            folder.mkdir(parents=True)
        self.unacked: list[Path] = []
        self.timers: list[threading.Timer] = []

    def options(self, visibility_timeout: int) -> dict[str, Any]:
        """The same for every worker: this transport has no visibility timeout."""
        return {
            "data_folder_in": str(self.queue),
            "data_folder_out": str(self.queue),
            "control_folder": str(self.control),
            "store_processed": True,
            "processed_folder": str(self.processed),
        }

    def killed(self, task_id: str) -> None:
        """Set aside the message of the task the killed worker was running (unacknowledged)."""
        for path in self.processed.glob("*.msg"):
            if json.loads(path.read_text())["headers"]["id"] == task_id:
                self.unacked.append(path)
                return
        raise AssertionError(f"drill: no message for the killed worker's task {task_id}")

    def redeliver(self, after: float) -> None:
        """In `after` seconds, put the killed workers' messages back at the end of the queue."""
        unacked, self.unacked = self.unacked, []
        if unacked:
            timer = threading.Timer(after, self._requeue, args=(unacked,))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)

    def _requeue(self, unacked: list[Path]) -> None:
        for path in unacked:
            # `<ms>_<uuid>.<queue>.msg`: the transport takes the files in name order, so a name
            # with the current time is the end of the queue; the content is left as it was.
            _ms, _, rest = path.name.partition("_")
            shutil.move(path, self.queue / f"{round(time.monotonic() * 1000)}_{rest}")

    def close(self) -> None:
        """The folders go with the drill's tmp_path."""
        for timer in self.timers:
            timer.cancel()


class Drill:
    """Start workers, wait for a point or a task, kill, read the emails the workers sent."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "mail").mkdir()
        self.workers: list[subprocess.Popen[bytes]] = []
        redis_url = os.environ.get("REDIS_URL", "")
        self.broker: RedisBroker | FolderBroker = (
            RedisBroker(redis_url) if redis_url else FolderBroker(directory / "broker")
        )
        from celery import Celery

        self.sender = Celery("drill", broker=self.broker.url, set_as_current=False)
        self.sender.conf.broker_transport_options = self.broker.options(DEFAULT_VISIBILITY_TIMEOUT)
        self.sender.conf.broker_connection_retry_on_startup = True

    def worker(
        self, *, pause: str = "", visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    ) -> subprocess.Popen[bytes]:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DRILL_DIR": str(self.dir),
            "DRILL_PAUSE": pause,
            "DRILL_BROKER_URL": self.broker.url,
            "DRILL_BROKER_OPTIONS": json.dumps(self.broker.options(visibility_timeout)),
            "DRILL_DATABASE": json.dumps(
                {k: db[k] for k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}
            ),
        }
        env.pop("REDIS_URL", None)
        (self.dir / "reached").unlink(missing_ok=True)
        if visibility_timeout < DEFAULT_VISIBILITY_TIMEOUT:
            self.broker.redeliver(after=visibility_timeout)
        log = (self.dir / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.drills.worker_app",
                "worker",
                "--pool=solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def send(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.sender.send_task(name, args=args, kwargs=kwargs)

    def _wait(self, done: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text()[-3000:] for p in self.dir.glob("worker-*.log"))
                raise AssertionError(f"drill: timed out waiting for {what}\n{logs}")
            time.sleep(0.2)

    def wait_reached(self) -> None:
        self._wait((self.dir / "reached").exists, "the pause point")

    def done(self, task: str) -> int:
        log = self.dir / "done.log"
        return log.read_text().splitlines().count(task) if log.exists() else 0

    def wait_done(self, task: str, count: int) -> None:
        self._wait(lambda: self.done(task) >= count, f"{count} run(s) of {task}")

    def wait_for(self, check: Callable[[], bool], what: str) -> None:
        self._wait(check, what)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        running = self.dir / f"running-{process.pid}"
        if running.exists():  # killed in the middle of a task: its message is unacknowledged
            self.broker.killed(running.read_text())
            running.unlink()

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                self.kill(process)
        connection.close()

    def emails(self) -> list[str]:
        """The recipient of every email the workers sent (the file backend)."""
        recipients = []
        for path in sorted((self.dir / "mail").glob("*.log")):
            for chunk in path.read_text().split("-" * 79 + "\n"):
                if chunk.strip():
                    recipients.append(str(message_from_string(chunk)["To"]))
        return recipients


@pytest.fixture
def drill(tmp_path: Path, transactional_db: Any) -> Iterator[Drill]:
    """A drill on an empty broker of its own (see the module's docstring)."""
    runner = Drill(tmp_path)
    try:
        yield runner
    finally:
        runner.stop_all()
        runner.broker.close()
