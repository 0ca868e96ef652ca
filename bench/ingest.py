"""Events per second through the real HTTP stack: gunicorn + Django + PostgreSQL.

    .venv/bin/python bench/ingest.py [--single N] [--batches M] [--clients C] [--members K]

Creates its own database `bench_ingest` on DATABASE_URL's server (unset: the embedded one),
migrates it, loads the aliexpress preset, starts gunicorn on a free loopback port, then with C
concurrent clients (default 8) posts N single events (POST /api/v1/events/) and M batches of
500 (POST /api/v1/events/batch/), and prints events/s with p50/p99 request latencies. In the
same run it measures the plain SQL one posting needs (lock the account, insert the entry,
update the balance, commit) over one connection. Every loop is bounded; gunicorn is stopped and
the database dropped at the end. Targets on 2 cores: >= 500 events/s single, >= 5,000 events/s
batched. Set REDIS_URL to use Redis as the cache, as in production.

Members: K (default 20,000). Single events go to distinct members in turn; batch b holds 500
distinct members, and the batches in flight at once hold different ones (a shop's concurrent
batches rarely share members). A second batched phase, printed beside it and not part of the
target, sends the same number of batches over only 2,000 members, so that every batch in
flight waits for another holding the same 500 accounts: the cost of contended members.

Statistics: the bench's ledger grows from nothing to tens of thousands of rows in seconds,
faster than autovacuum re-analyzes it, so the database is analyzed after the warm-up and
before each batched phase. Without that, a phase planned its look-ups on statistics of a
ledger a tenth its size, whenever autovacuum had not caught up yet (sequential scans and
hashes of the whole entries table per batch: backends' CPU per event 0.16-0.65 ms instead of
0.11-0.13, and 2,300-5,000 events/s instead of 5,500-6,800). A production ledger of millions
of rows changes by a tiny fraction per batch, so its statistics stay what ANALYZE gives.

Server: gunicorn --workers W --threads T (gthread; default 2 x 4 on 2 cores: a process per
core, threads to overlap the database waits), production settings (DEBUG off), persistent
database connections (DB_CONN_MAX_AGE=600) without the per-request `SELECT 1` health check
(DB_CONN_HEALTH_CHECKS=false), log level WARNING. The client keeps `--clients` threads, each with a keep-alive
connection over a raw socket that sends request bytes built beforehand (`Connection`), so the
client's own CPU stays small beside the server's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402

BATCH = 500
CONTENDED_MEMBERS = 2000


def server_env(url: str) -> dict[str, str]:
    """The environment of a benchmark's server: production settings (DEBUG off), persistent
    database connections without the per-request health check, log level WARNING."""
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DB_CONN_MAX_AGE": "600",
        "DB_CONN_HEALTH_CHECKS": "false",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def setup_django(env: dict[str, str], members: int) -> tuple[str, list[str]]:
    """Migrate, load the preset, make members and an API key. Returns (key, member numbers)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from members.models import Member
    from members.services import api_key_create

    call_command("migrate", verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0)
    Member.objects.bulk_create(
        [Member(email=f"bench{n}@example.com", number=f"9{n:09d}") for n in range(members)],
        batch_size=1000,
    )
    from loyalty.ledger.models import Account

    Account.objects.bulk_create(
        [Account(member_id=pk) for pk in Member.objects.values_list("pk", flat=True)],
        batch_size=1000,
    )
    _key, secret = api_key_create(name="bench")
    from django.db import connection

    connection.close()
    return secret, [f"9{n:09d}" for n in range(members)]


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def event(number: str, key: str, order: str, when: str) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": number,
        "occurred_at": when,
        "order": {"number": order, "amount": "12.50", "currency": "USD", "categories": ["a"]},
    }


class Connection:
    """A keep-alive HTTP/1.1 client connection that sends prepared request bytes and reads
    one response (status, body): a load generator's work and no more, so that the two cores
    are left to the server (http.client parses every header with the email package)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _sep, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _colon, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        return status, rest[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("the server closed the connection")
        return data

    def _more(self) -> None:
        self.buffer += self._recv()

    def close(self) -> None:
        self.sock.close()


def request_bytes(port: int, secret: str, path: str, body: bytes) -> bytes:
    if not body:
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Api-Key {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_clients(
    port: int, secret: str, clients: int, jobs: list[tuple[str, bytes, int]]
) -> tuple[float, list[float], int, int]:
    """Send every job (path, body, events in it) from `clients` threads over keep-alive
    connections, the request bytes built beforehand. Returns (seconds, latencies, events,
    errors)."""
    lock = threading.Lock()
    queue = [
        (request_bytes(port, secret, path, body), bool(body), count)
        for path, body, count in reversed(jobs)
    ]
    latencies: list[float] = []
    counters = {"events": 0, "errors": 0}

    def worker() -> None:
        conn = Connection(port)
        while True:
            with lock:
                if not queue:
                    break
                request, posted, count = queue.pop()
            started = time.perf_counter()
            status, payload = conn.exchange(request)
            elapsed = time.perf_counter() - started
            ok = status == 201 or (
                status == 200
                and (not posted or all(r["status"] == 201 for r in json.loads(payload)["results"]))
            )
            with lock:
                latencies.append(elapsed)
                counters["events"] += count
                counters["errors"] += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, counters["events"], counters["errors"]


def plain_sql(url: str, postings: int) -> float:
    """Postings per second of the bare SQL one posting needs, over one connection."""
    import psycopg

    with psycopg.connect(url) as conn:
        member_ids = [
            row[0] for row in conn.execute("SELECT member_id FROM loyalty_account LIMIT 500")
        ]
        conn.commit()
        started = time.perf_counter()
        for n in range(postings):
            member_id = member_ids[n % len(member_ids)]
            with conn.transaction():
                conn.execute(
                    "SELECT balance FROM loyalty_account WHERE member_id = %s FOR UPDATE",
                    [member_id],
                )
                conn.execute(
                    "INSERT INTO loyalty_pointentry (member_id, kind, points, occurred_at,"
                    " qualifying_at, created_at, reason) VALUES (%s, 'earn', 5, now(), now(),"
                    " now(), 'plain sql')",
                    [member_id],
                )
                conn.execute(
                    "UPDATE loyalty_account SET balance = balance + 5 WHERE member_id = %s",
                    [member_id],
                )
        return postings / (time.perf_counter() - started)


def analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def machine_speed() -> float:
    """Seconds this machine takes for a fixed pure-Python loop (10 million additions): the
    same code's figures move with it (the project's 2-core machine: 0.6-1.3 s)."""
    started = time.perf_counter()
    total = 0
    for n in range(10_000_000):
        total += n
    return time.perf_counter() - started


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by the gunicorn processes, the database's backends for the bench
    database and this client process, between `start()` and `stop()` (Linux /proc)."""

    def __init__(self, url: str, master: int) -> None:
        self.url, self.master = url, master

    def _pids(self) -> tuple[list[int], list[int]]:
        import psycopg

        workers = [self.master]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                if ppid == self.master:
                    workers.append(int(entry))
        with psycopg.connect(self.url) as conn:
            backends = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            ]
        return workers, backends

    def start(self) -> None:
        self.workers, self.backends = self._pids()
        self.before = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        usage = os.times()
        return (
            sum(_cpu(p) for p in self.workers),
            sum(_cpu(p) for p in self.backends),
            usage.user + usage.system,
        )

    def stop(self, events: int) -> str:
        after = self._sample()
        gunicorn, postgres, client = (
            1000 * (a - b) / events for a, b in zip(after, self.before, strict=True)
        )
        return (
            f"CPU per event: gunicorn {gunicorn:.2f} ms, postgres backends {postgres:.2f} ms, "
            f"bench client {client:.2f} ms"
        )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=2000, help="single-event requests")
    parser.add_argument("--batches", type=int, default=24, help="batches of 500")
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    if args.members < CONTENDED_MEMBERS:
        parser.error(f"--members must be at least {CONTENDED_MEMBERS:,}")

    url = bench_url("bench_ingest")
    env = server_env(url)
    create_database(url)
    gunicorn = None
    try:
        secret, numbers = setup_django(env, args.members)
        port = free_port()
        gunicorn = start_gunicorn(env, port, args.workers, args.threads)
        print(
            f"server : gunicorn {args.workers} workers x {args.threads} threads (gthread), "
            "DEBUG off, persistent connections, no per-request health check, log WARNING"
        )
        when = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

        def single_job(n: int, prefix: str) -> tuple[str, bytes, int]:
            body = event(numbers[n % args.members], f"{prefix}{n}", f"{prefix}O{n}", when)
            return "/api/v1/events/", json.dumps(body).encode(), 1

        warm = [single_job(n, "w") for n in range(200)]
        run_clients(port, secret, args.clients, warm)
        analyze(url)  # statistics of a ledger that has rows, as autovacuum keeps them

        seconds, lat, _events, errors = run_clients(
            port, secret, args.clients, [("/healthz", b"", 1)] * 2000
        )
        print(
            f"stack  : GET /healthz (no database), {args.clients} clients -> "
            f"{2000 / seconds:,.0f} requests/s; p50 {pct(lat, 0.5):.1f} ms; errors {errors}"
        )

        meter = CpuMeter(url, gunicorn.pid)
        jobs = [single_job(n, "s") for n in range(args.single)]
        meter.start()
        seconds, lat, events, errors = run_clients(port, secret, args.clients, jobs)
        print(
            f"single : {events} events, {args.clients} clients, {seconds:.1f} s -> "
            f"{events / seconds:,.0f} events/s; p50 {pct(lat, 0.5):.1f} ms, "
            f"p99 {pct(lat, 0.99):.1f} ms; errors {errors}"
        )
        print(f"         {meter.stop(events)}")

        def batch_jobs(prefix: str, members: int) -> list[tuple[str, bytes, int]]:
            jobs = []
            for b in range(args.batches):
                body = {
                    "events": [
                        event(
                            numbers[(b * BATCH + i) % members],
                            f"{prefix}{b}-{i}",
                            f"{prefix.upper()}{b}-{i}",
                            when,
                        )
                        for i in range(BATCH)
                    ]
                }
                jobs.append(("/api/v1/events/batch/", json.dumps(body).encode(), BATCH))
            return jobs

        phases = [
            ("batched", "b", args.members, f"{args.members:,} members"),
            (
                "batched, contended (not the target)",
                "c",
                CONTENDED_MEMBERS,
                f"{CONTENDED_MEMBERS:,} members: batches in flight share accounts",
            ),
        ]
        for label, prefix, members, what in phases:
            jobs = batch_jobs(prefix, members)
            analyze(url)  # the statistics of the ledger as it now is (see the docstring)
            meter.start()
            seconds, lat, events, errors = run_clients(port, secret, args.clients, jobs)
            print(
                f"{label}: {events} events in {len(jobs)} batches of {BATCH} over {what}, "
                f"{args.clients} clients, {seconds:.1f} s -> {events / seconds:,.0f} events/s; "
                f"p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms per batch; "
                f"errors {errors}"
            )
            print(f"         {meter.stop(events)}")
        print(f"load   : {os.getloadavg()[0]:.2f} (1-minute load average after the runs)")
        print(f"machine: {machine_speed():.2f} s for 10 million Python additions")
        rate = plain_sql(url, 5000)
        print(f"plain SQL posting (lock + insert + update + commit, 1 connection): {rate:,.0f}/s")
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        drop_database(url)


if __name__ == "__main__":
    main()
