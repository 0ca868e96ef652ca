"""Kill drills: real Celery worker subprocesses on Redis database 6, killed with SIGKILL at a
chosen point (tests/drills/worker_app.py). Without Redis they are skipped with the reason
printed; with CI=true they fail instead (CI must skip nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email import message_from_string
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

BROKER = os.environ.get("DRILL_BROKER_URL", "redis://127.0.0.1:6379/6")
ROOT = Path(__file__).resolve().parents[2]


def _redis() -> Any:
    import redis

    client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"the kill drills need Redis at {BROKER}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return client


class Drill:
    """Start workers, wait for a point or a task, kill, read the emails the workers sent."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "mail").mkdir()
        self.workers: list[subprocess.Popen[bytes]] = []
        from celery import Celery

        self.sender = Celery("drill", broker=BROKER, set_as_current=False)
        self.sender.conf.broker_connection_retry_on_startup = True

    def worker(self, *, pause: str = "", visibility_timeout: int = 3600) -> subprocess.Popen[bytes]:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DRILL_DIR": str(self.dir),
            "DRILL_PAUSE": pause,
            "DRILL_BROKER_URL": BROKER,
            "DRILL_VISIBILITY_TIMEOUT": str(visibility_timeout),
            "DRILL_DATABASE": json.dumps(
                {k: db[k] for k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}
            ),
        }
        env.pop("REDIS_URL", None)
        (self.dir / "reached").unlink(missing_ok=True)
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
    client = _redis()
    client.flushdb()  # database 6 is the drills' alone
    runner = Drill(tmp_path)
    try:
        yield runner
    finally:
        runner.stop_all()
        client.flushdb()
