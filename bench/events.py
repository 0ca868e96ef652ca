"""Benchmark: many members answering one event at once, and the dashboard with every card.

    .venv/bin/python bench/events.py [--members N] [--capacity C] [--threads T]

Creates its own database `bench_events` on DATABASE_URL's server (unset: the embedded one),
inserts N members, lets them RSVP to one event of capacity C from T threads at once (every
answer takes the event's row lock), checks the counts (exactly C confirmed, the rest waiting),
cancels a tenth of the seats from T threads (each seat goes to the first waiting member), then
renders the dashboard of a member with 300 orders and every card filled, and drops the
database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    url = bench_url("bench_events")
    create_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.pop("REDIS_URL", None)
    try:
        run(args.members, args.capacity, args.threads)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url)


def in_threads(count: int, items: list, work) -> float:  # type: ignore[no-untyped-def,type-arg]
    """Run work(item) for every item from `count` threads released together; seconds taken."""
    from django.db import connection

    chunks = [items[i::count] for i in range(count)]
    barrier = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def target(chunk: list) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            for item in chunk:
                work(item)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(c,)) for c in chunks]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def run(n: int, capacity: int, threads: int) -> None:
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from benefits.engagement.brands import week_start
    from benefits.engagement.events import event_rsvp, event_rsvp_cancel
    from benefits.engagement.models import (
        Brand,
        EventRsvp,
        FeaturedBrand,
        FeaturedBrandDiscount,
        MemberEvent,
        Sale,
        SaleEarlyAccess,
    )
    from loyalty.earning.models import Order
    from loyalty.ledger.models import Account
    from loyalty.program.models import Tier
    from members.models import Member

    call_command("migrate", verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO members_member (password, is_superuser, email, number, name, joined_on,
                language, marketing_consent, is_staff, is_active, date_joined)
            SELECT '!', false, 'm' || g || '@bench.example', lpad(g::text, 10, '0'), '',
                   date '2020-01-01', 'en', false, false, true, now()
            FROM generate_series(1, %s) AS g
            """,
            [n],
        )
    now = timezone.now()
    event = MemberEvent.objects.create(
        title="Launch night",
        starts_at=now + timedelta(days=7),
        rsvp_deadline=now + timedelta(days=6),
        place="Flagship store",
        capacity=capacity,
    )
    members = list(Member.objects.order_by("pk"))

    elapsed = in_threads(threads, members, lambda m: event_rsvp(event_id=event.pk, member=m))
    rows = EventRsvp.objects.filter(event=event)
    confirmed = rows.filter(status=EventRsvp.Status.CONFIRMED).count()
    waiting = rows.filter(status=EventRsvp.Status.WAITING).count()
    seats = MemberEvent.objects.get(pk=event.pk).seats_taken
    ok = confirmed == capacity == seats and waiting == n - capacity
    print(
        f"{n:,} members answered an event of capacity {capacity} from {threads} threads in "
        f"{elapsed:.2f} s ({n / elapsed:,.0f} RSVPs/s): {confirmed} confirmed, {waiting} "
        f"waiting, seats_taken {seats} -> {'OK' if ok else 'WRONG'}"
    )

    leaving = [r.member for r in rows.filter(status="confirmed").select_related("member")]
    leaving = leaving[: max(capacity // 10, 1)]
    first_waiting = list(
        rows.filter(status="waiting").order_by("answered_at", "pk").values_list("pk", flat=True)
    )[: len(leaving)]
    elapsed = in_threads(threads, leaving, lambda m: event_rsvp_cancel(event_id=event.pk, member=m))
    promoted = set(
        rows.filter(status="confirmed", promoted_at__isnull=False).values_list("pk", flat=True)
    )
    ok = promoted == set(first_waiting) and rows.filter(status="confirmed").count() == capacity
    print(
        f"{len(leaving)} cancellations from {threads} threads in {elapsed:.2f} s: "
        f"the first {len(promoted)} waiting moved up -> {'OK' if ok else 'WRONG'}"
    )

    # The dashboard of a gold member with 300 orders and every card filled.
    member = members[0]
    tiers = {t.code: t for t in Tier.objects.all()}
    Account.objects.update_or_create(member=member, defaults={"tier": tiers["gold"]})
    brands = [
        Brand.objects.create(code=f"b{i}", name=f"Brand {i:03d}", categories=f"c{i % 40}, shoes")
        for i in range(200)
    ]
    featured = FeaturedBrand.objects.create(brand=brands[0], week_start=week_start(now.date()))
    FeaturedBrandDiscount.objects.create(featured=featured, tier=tiers["gold"], percent=5)
    for i in range(20):
        sale = Sale.objects.create(
            title=f"Sale {i}",
            public_start_at=now + timedelta(hours=i),
            ends_at=now + timedelta(days=3),
        )
        SaleEarlyAccess.objects.create(sale=sale, tier=tiers["gold"], hours=24)
        MemberEvent.objects.create(
            title=f"Event {i}",
            starts_at=now + timedelta(days=2 + i),
            rsvp_deadline=now + timedelta(days=1 + i),
            place="Store",
            capacity=50,
            host_brand=brands[i],
        )
    Order.objects.bulk_create(
        Order(
            number=f"SO-{i}",
            member=member,
            amount=Decimal("20.00"),
            currency="USD",
            categories=[f"c{i % 40}", "shoes"],
            received_at=now - timedelta(days=i % 90, minutes=1),
        )
        for i in range(300)
    )
    client = Client()
    client.force_login(member)
    client.get("/me/")  # the day's visit point and the snapshot
    timings = []
    for _i in range(50):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/me/")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    print(
        f"dashboard with every card (300 orders, 200 brands, 20 sales, 21 events): "
        f"median {statistics.median(timings):.1f} ms, p95 "
        f"{sorted(timings)[int(len(timings) * 0.95) - 1]:.1f} ms over 50 renders, "
        f"{len(queries.captured_queries)} queries"
    )


if __name__ == "__main__":
    main()
