"""Outbound webhooks: deliveries per second, the delay from commit to delivery, and what
webhooks cost the event ingestion.

    .venv/bin/python bench/webhooks.py [--events N] [--receivers R] [--paced-rate E] ...

Creates its own database `bench_webhooks` on DATABASE_URL's server (unset: the embedded one),
migrates it, loads the aliexpress preset and members, and starts what production runs:
gunicorn (production settings, as bench/ingest.py starts it) and a Celery worker
(`--concurrency 2`, as `make run`), with Redis as the broker and the cache when REDIS_URL is
set. R receivers (default 4) listen on loopback in a process of their own (HTTP/1.1
keep-alive, threads); every request is verified with the `standardwebhooks` package, and its
`webhook-id` and arrival time kept. Every loop is bounded; everything is stopped and the
database dropped at the end.

Phases, in one run:
1-2. Ingestion without and with webhooks, alternated twice (without, with, without, with):
   single events (POST /api/v1/events/, 8 clients), --single each time. R endpoints are
   registered, one per receiver, every event type; "without" is with them disabled (the
   webhooks subscriber still runs and finds no endpoint, as in a shop that registered none),
   "with" is with them enabled. Twice: first with the worker stopped (what webhooks add to
   the writing requests; the events wait, and are delivered when the worker is back), then
   with the worker running, which then also delivers every event to each receiver on the
   same two cores as the server and the database. Printed: each rate, the ratio of the
   medians (target >= 90 %), and how long each round's deliveries took to catch up.
3. Throughput: N events (default 20,000) recorded at once (batches of 500 through the API),
   so N x R deliveries (each order's `points.earned`) wait; deliveries per second from the
   first commit to the last arrival (target >= 1,000/s). The delays of this burst are printed
   too: they measure the queue (the last event waits for all the others), not the path.
4. Delay: events at a steady rate below that capacity (default 150 events/s, one at a time,
   for 20 s), healthy receivers; the delay from each event's commit (its outbox row's
   `created_at`: the transaction's start, so a little more than from the commit) to its
   arrival at each receiver, p50 and p99 (target p99 < 2 s).

Every delivered request is counted: the bench fails if a receiver got a request it could
not verify, or missed an event.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402
from bench.ingest import (  # noqa: E402
    BATCH,
    Connection,
    analyze,
    event,
    free_port,
    pct,
    request_bytes,
    run_clients,
    server_env,
    setup_django,
    start_gunicorn,
)

DELIVERY_TARGET = 1000.0  # deliveries/s
DELAY_TARGET = 2.0  # seconds, p99
INGEST_TARGET = 0.90  # with webhooks / without


# --- The receivers (a process of their own) ---------------------------------------------------


def _receivers(ports: list[int], secrets: Any, ready: Any, results: Any, stop: Any) -> None:
    """Serve R receivers until `stop`; then put each one's (arrivals, bad) in `results`."""
    from standardwebhooks import Webhook, WebhookVerificationError

    kept: list[dict[str, Any]] = [{"arrivals": [], "bad": 0} for _ in ports]
    servers = []
    for index, port in enumerate(ports):
        box = kept[index]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # an answer's head and body go out at once
            box_: dict[str, Any] = box
            index_ = index

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = time.time()
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(secrets[self.index_]).verify(body, headers)
                    self.box_["arrivals"].append((headers["webhook-id"], arrived))
                    answer, status = b"{}", 200
                except (WebhookVerificationError, KeyError):
                    self.box_["bad"] += 1
                    answer, status = b"bad", 400
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    ready.set()
    stop.wait()
    for server in servers:
        server.shutdown()
    for box in kept:
        results.put(box)


# --- The worker -------------------------------------------------------------------------------


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- Reading the database ---------------------------------------------------------------------


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def wait_delivered(url: str, timeout: float) -> float:
    """Seconds until no webhook message is pending (or the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        undelivered = query(
            url,
            "SELECT (SELECT count(*) FROM webhooks_webhookmessage WHERE status <> 'delivered')"
            " + (SELECT count(*) FROM core_outboxevent WHERE fanned_out_at IS NULL)"
            " + (SELECT count(*) FROM core_outboxdelivery WHERE status = 'pending')",
        )[0][0]
        if undelivered == 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit(f"webhooks not all delivered after {timeout:.0f} s")


def commit_times(url: str, since_id: int) -> dict[str, float]:
    """Each event's webhook-id and its outbox row's created_at (Unix seconds)."""
    rows = query(
        url,
        "SELECT event_id::text, extract(epoch FROM created_at) FROM core_outboxevent WHERE id > %s",
        [since_id],
    )
    return {event_id: float(at) for event_id, at in rows}


def last_event_id(url: str) -> int:
    return int(query(url, "SELECT coalesce(max(id), 0) FROM core_outboxevent")[0][0])


def delays(arrivals: list[list[tuple[str, float]]], commits: dict[str, float]) -> list[float]:
    """Seconds from commit to arrival of every delivery of these events (a repeat counts
    once: its first arrival)."""
    found: list[float] = []
    for received in arrivals:
        first: dict[str, float] = {}
        for event_id, at in received:
            if event_id in commits and event_id not in first:
                first[event_id] = at
        missing = set(commits) - set(first)
        if missing:
            raise SystemExit(f"a receiver missed {len(missing)} events")
        found.extend(at - commits[event_id] for event_id, at in first.items())
    return found


# --- The phases -------------------------------------------------------------------------------


def single_rate(
    port: int, secret: str, numbers: list[str], count: int, prefix: str, when: str
) -> float:
    """Events per second of `count` single events, one each for the members `numbers`."""
    jobs = [
        (
            "/api/v1/events/",
            json.dumps(event(numbers[n], f"{prefix}{n}", f"{prefix}O{n}", when)).encode(),
            1,
        )
        for n in range(count)
    ]
    seconds, _lat, events, errors = run_clients(port, secret, 8, jobs)
    if errors:
        raise SystemExit(f"{errors} ingestion errors")
    return events / seconds


def paced(
    port: int, secret: str, numbers: list[str], rate: float, seconds: float, when: str
) -> int:
    """Single events at `rate` per second, one at a time, for `seconds`; how many."""
    conn = Connection(port)
    started, n = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        due = started + n / rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        body = json.dumps(event(numbers[n], f"p{n}", f"pO{n}", when)).encode()
        status, _body = conn.exchange(request_bytes(port, secret, "/api/v1/events/", body))
        if status != 201:
            raise SystemExit(f"paced event answered {status}")
        n += 1
    conn.close()
    return n


def register(env: dict[str, str], urls: list[str]) -> list[str]:
    """R endpoints (every event type) of a new API key; their secrets."""
    os.environ.update(env)
    from django.db import connection

    from members.services import api_key_create
    from webhooks.services import endpoint_create

    owner, _secret = api_key_create(name="bench webhooks")
    secrets = [endpoint_create(owner=owner, url=url)[1] for url in urls]
    connection.close()
    return secrets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000, help="events of the burst")
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--single", type=int, default=2000, help="events per ingestion phase")
    parser.add_argument("--paced-rate", type=float, default=150.0, help="events/s, phase 4")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    args = parser.parse_args()

    url = bench_url("bench_webhooks")
    env = {**server_env(url), "WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}  # receivers on loopback
    create_database(url)
    gunicorn = worker = None
    receivers = None
    stop_receivers = multiprocessing.Event()
    try:
        # Every event goes to a member of its own (one order a day earns; a second one of the
        # same member could earn nothing, and record no event).
        paced_count = int(args.paced_rate * args.paced_seconds) + 1
        members = 200 + 8 * args.single + args.events + paced_count
        secret, numbers = setup_django(env, members)
        slices, start = {}, 0
        for name, size in [
            ("warm", 200),
            *((f"round{n}", args.single) for n in range(8)),
            ("burst", args.events),
            ("paced", paced_count),
        ]:
            slices[name], start = numbers[start : start + size], start + size
        rounds_of = iter([slices[f"round{n}"] for n in range(8)])
        when = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        port = free_port()
        gunicorn = start_gunicorn(env, port, 2, 4)
        worker = start_worker(env)
        print(
            "server : gunicorn 2 workers x 4 threads, a Celery worker --concurrency 2, "
            f"{args.receivers} receivers (one process, threads), broker "
            f"{'Redis' if os.environ.get('REDIS_URL') else 'filesystem'}"
        )
        single_rate(port, secret, slices["warm"], 200, "w", when)  # warm-up
        analyze(url)
        wait_delivered(url, 120)

        # The receivers and their endpoints (disabled for the rounds without).
        ports = [free_port() for _ in range(args.receivers)]
        secrets = register(env, [f"http://127.0.0.1:{p}/hook" for p in ports])
        ready = multiprocessing.Event()
        results: Any = multiprocessing.Queue()
        receivers = multiprocessing.Process(
            target=_receivers, args=(ports, secrets, ready, results, stop_receivers)
        )
        receivers.start()
        if not ready.wait(30):
            raise SystemExit("the receivers did not start")

        # 1-2. Ingestion without and with webhooks, alternated: first with the worker stopped
        # (what webhooks add to the writes: the events wait), then with it running (the two
        # cores shared with the deliveries).
        ratios = {}
        for phase, running in [("write path, worker stopped", False), ("worker delivering", True)]:
            if not running:
                stop(worker)
            rates: dict[bool, list[float]] = {False: [], True: []}
            rounds = []
            for hooks in [False, True, False, True]:
                query(url, "UPDATE webhooks_webhookendpoint SET active = %s", [hooks])
                analyze(url)
                mark = last_event_id(url)
                rate = single_rate(port, secret, next(rounds_of), args.single, f"r{mark}-", when)
                note = ""
                if running:
                    catch_up = wait_delivered(url, 600)
                    if hooks:
                        done = len(commit_times(url, mark)) * args.receivers
                        note = f" ({done:,} deliveries done {catch_up:.1f} s after)"
                rates[hooks].append(rate)
                rounds.append(f"{'with' if hooks else 'without'} {rate:,.0f}/s{note}")
            ratios[phase] = statistics.median(rates[True]) / statistics.median(rates[False])
            print(
                f"ingest : {phase}: single events, 8 clients, {args.single:,} a round: "
                + "; ".join(rounds)
                + f" -> with/without {ratios[phase]:.0%}"
            )
            if not running:
                worker = start_worker(env)
                wait_delivered(url, 900)
        print(
            f"         target with/without >= {INGEST_TARGET:.0%}: write path "
            f"{'met' if ratios['write path, worker stopped'] >= INGEST_TARGET else 'NOT met'}"
            f", worker delivering on the same cores "
            f"{'met' if ratios['worker delivering'] >= INGEST_TARGET else 'NOT met'}"
        )
        query(url, "UPDATE webhooks_webhookendpoint SET active = true")

        # 3. Throughput: a burst of N events.
        analyze(url)
        mark = last_event_id(url)
        jobs = []
        for b in range(args.events // BATCH):
            body = {
                "events": [
                    event(slices["burst"][b * BATCH + i], f"t{b}-{i}", f"T{b}-{i}", when)
                    for i in range(BATCH)
                ]
            }
            jobs.append(("/api/v1/events/batch/", json.dumps(body).encode(), BATCH))
        started_wall = time.time()
        seconds, _lat, events, errors = run_clients(port, secret, 4, jobs)
        drained = wait_delivered(url, 900)
        burst = commit_times(url, mark)
        print(
            f"burst  : {events:,} events in {seconds:.1f} s (errors {errors}) -> "
            f"{len(burst):,} outbox events"
        )

        # 4. Delay at a steady rate.
        mark = last_event_id(url)
        sent = paced(port, secret, slices["paced"], args.paced_rate, args.paced_seconds, when)
        wait_delivered(url, 300)
        steady = commit_times(url, mark)

        stop_receivers.set()
        kept = [results.get(timeout=60) for _ in range(args.receivers)]
        receivers.join(30)
        bad = sum(box["bad"] for box in kept)
        arrivals = [box["arrivals"] for box in kept]

        burst_delays = delays(arrivals, burst)
        burst_last = max(at for r in arrivals for e, at in r if e in burst)
        burst_first = min(burst.values())
        deliveries = len(burst) * args.receivers
        rate = deliveries / (burst_last - burst_first)
        print(
            f"deliver: {deliveries:,} deliveries ({len(burst):,} events x {args.receivers} "
            f"receivers) from the first commit to the last arrival in "
            f"{burst_last - burst_first:.1f} s -> {rate:,.0f} deliveries/s (target >= "
            f"{DELIVERY_TARGET:,.0f}: {'met' if rate >= DELIVERY_TARGET else 'NOT met'}); "
            f"all delivered {drained:.1f} s after the last batch was answered "
            f"(ingestion took {seconds:.1f} s, from {started_wall:.0f})"
        )
        print(
            f"         burst delay (the queue, not the target): p50 "
            f"{statistics.median(burst_delays):.1f} s, p99 {pct(burst_delays, 0.99) / 1000:.1f} s"
        )
        steady_delays = delays(arrivals, steady)
        p99 = pct(steady_delays, 0.99) / 1000
        print(
            f"delay  : {sent:,} events at {args.paced_rate:.0f}/s for {args.paced_seconds:.0f} s "
            f"({len(steady):,} outbox events, {len(steady_delays):,} deliveries), commit to "
            f"arrival p50 {pct(steady_delays, 0.5):.0f} ms, p99 {p99 * 1000:.0f} ms, max "
            f"{max(steady_delays) * 1000:.0f} ms (target p99 < {DELAY_TARGET:.0f} s: "
            f"{'met' if p99 < DELAY_TARGET else 'NOT met'})"
        )
        repeats = sum(len(r) for r in arrivals) - len(
            {(i, e) for i, r in enumerate(arrivals) for e, _ in r}
        )
        print(f"checks : {bad} requests failed verification; {repeats} repeated deliveries")
        print(f"load   : {os.getloadavg()[0]:.2f} (1-minute load average after the runs)")
        if bad:
            raise SystemExit("some requests failed verification")
    finally:
        stop_receivers.set()
        if receivers is not None and receivers.is_alive():
            receivers.terminate()
        stop(worker)
        stop(gunicorn)
        drop_database(url)


if __name__ == "__main__":
    main()
