"""`make run`: the portal for development, with its demo, a Celery worker and beat.

`python -m config.dev` (what `make run` calls after installing):

1. checks that the port is free (PORT, default 8000) and says so plainly if it is not;
2. starts the embedded PostgreSQL server unless DATABASE_URL is set (config/embedded_db.py);
3. migrates, loads the AliExpress preset program and the demo (each idempotent), collects
   the static files;
4. runs the processes of `Procfile.dev` (gunicorn with reload, the worker, beat) under honcho,
   with DJANGO_SETTINGS_MODULE, PORT, SITE_URL and DATABASE_URL set for them, and prints the
   address and the demo logins once the portal answers;
5. on Ctrl-C (or SIGTERM) stops them all, then the database server if it started it, and
   exits 0.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

from config import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE = BASE_DIR / "Procfile.dev"
DEFAULT_PORT = 8000
HOST = "127.0.0.1"


class PortTaken(Exception):
    pass


def port_from_env() -> int:
    raw = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"PORT={raw!r} is not a port number (1-65535).")
    return int(raw)


def check_port(port: int) -> None:
    """Refuse a port that something already listens on (as gunicorn will bind it: with
    SO_REUSEADDR, so a port in TIME_WAIT after the last run is not 'taken')."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise PortTaken(
                f"Port {port} on {HOST} is already in use ({exc.strerror}). Another `make run` "
                f"may be running; stop it, or choose another port: PORT={port + 1} make run"
            ) from exc


def set_up() -> str:
    """Migrate, load the program and the demo, collect static files; returns what the demo
    printed (the logins, shown again when the portal is ready)."""
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    print("Setting up: migrations, the AliExpress program, the demo...", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0)
    demo = io.StringIO()
    call_command("seed_demo", stdout=demo)
    call_command("seed_partners", stdout=demo)
    call_command("collectstatic", interactive=False, verbosity=0)
    connections.close_all()
    return demo.getvalue()


def processes() -> list[tuple[str, str]]:
    """(name, command) of each line of Procfile.dev."""
    from honcho.environ import parse_procfile

    return list(parse_procfile(PROCFILE.read_text()).processes.items())


def announce_when_ready(address: str, demo: str, stop: threading.Event) -> None:
    """Print the address and the logins once the portal answers (after the processes'
    start-up logs, so they are the last thing on screen)."""
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{address}/healthz", timeout=2):  # noqa: S310
                break
        except OSError:
            time.sleep(0.5)
    else:
        return
    lines = [
        "",
        "=" * 72,
        f"Member Center is serving on {address}/",
        f"  member center: {address}/me/    admin: {address}/admin/",
        *[f"  {line}" for line in demo.strip().splitlines()],
        "Ctrl-C stops the web server, the worker, beat and the database.",
        "=" * 72,
        "",
    ]
    print("\n".join(lines), flush=True)


def main() -> int:
    try:
        port = port_from_env()
        check_port(port)
    except PortTaken as exc:
        print(exc, file=sys.stderr)
        return 2
    address = f"http://{HOST}:{port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["PORT"] = str(port)
    os.environ.setdefault("SITE_URL", address)  # links in emails
    # Ctrl-C during the set-up ends it cleanly (the database is stopped by `serving`).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with embedded_db.serving(announce=True):
            demo = set_up()
            return serve(address, demo)
    except KeyboardInterrupt:
        print("\nStopped during set-up; nothing is left running.", flush=True)
        return 0


class _LeaderFirst:
    """honcho's process manager, but SIGTERM goes to each process alone (gunicorn's master,
    celery's main process), which stops its own children in order; honcho's default signals
    the whole process group, so celery's pool children die under it and it logs errors.
    SIGKILL, after honcho's grace period, still goes to the whole group."""

    def terminate(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)

    def kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


# Seconds between SIGTERM and SIGKILL: celery's warm shutdown takes 5-8 s on the filesystem
# broker (its pool children each wait a second, its timer ticks by the second); honcho's 5 s
# would kill it mid-way.
GRACE_SECONDS = 20


def serve(address: str, demo: str) -> int:
    from honcho import manager as honcho_manager
    from honcho.manager import Manager

    honcho_manager.KILL_WAIT = GRACE_SECONDS

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    manager = Manager()
    manager._procmgr = _LeaderFirst()
    for name, command in processes():
        manager.add_process(name, command, env=env, cwd=str(BASE_DIR))
    stop = threading.Event()
    threading.Thread(target=announce_when_ready, args=(address, demo, stop), daemon=True).start()
    try:
        manager.loop()  # returns when every process has stopped
    finally:
        stop.set()
    interrupted = manager.returncode in (130, 143)  # honcho's code for SIGINT / SIGTERM
    print("Stopped." if interrupted else f"A process stopped (exit {manager.returncode}).")
    return 0 if interrupted else int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
