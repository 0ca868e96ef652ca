"""`make run`'s entry point (`python -m config.dev`) as a newcomer meets it: nothing configured
(no DATABASE_URL, no REDIS_URL), a fresh var/ folder. It must serve on the address it prints
and leave no process behind after one Ctrl-C, the database server included."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from django.conf import settings

UNSET = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "SITE_URL")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nothing_configured(var: Path, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env.update(PORT=str(port), VAR_DIR=str(var))
    return env


class Output:
    """The launcher's combined output, read line by line in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._stream = proc.stdout
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout} s; output:\n{self.text[-4000:]}")


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_make_run_serves_on_the_printed_address_and_one_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    port = _free_port()
    var = tmp_path / "var"
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.dev"],
        cwd=settings.BASE_DIR,
        env=_nothing_configured(var, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    output = Output(proc)
    try:
        address = output.wait_for(r"Member Center is serving on (http://\S+)/\n", 240)[1]
        assert address == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{address}/accounts/login/", timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert b'name="login"' in response.read()
        # the demo logins point at that same address
        assert f"staff ({address}/admin/): admin@example.com / " in output.text
        assert f"member ({address}/me/): gold@example.com / " in output.text
        assert "embedded PostgreSQL in " + str(var / "postgres") + " (started" in output.text

        postmaster = int((var / "postgres" / "postmaster.pid").read_text().split()[0])
        started = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        server = psutil.Process(postmaster)
        started += [server, *server.children(recursive=True)]
        names = " ".join(" ".join(p.cmdline()) for p in started)
        for expected in ("gunicorn", "celery -A config worker", "celery -A config beat"):
            assert expected in names

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert output.wait_for(r"Stopped\.\n", 5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in started):
        time.sleep(0.2)
    assert [" ".join(p.cmdline()) for p in started if _alive(p)] == []
    assert not (var / "postgres" / "postmaster.pid").exists()
    assert "Traceback" not in output.text


def test_a_taken_port_is_a_clear_message_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "config.dev"],
            cwd=settings.BASE_DIR,
            env=_nothing_configured(tmp_path / "var", port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Port {port} on 127.0.0.1 is already in use (Address already in use). Another "
        f"`make run` may be running; stop it, or choose another port: PORT={port + 1} make run"
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "var" / "postgres").exists()
