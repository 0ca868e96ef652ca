"""Benchmark: the reward shop under contention, and the benefits answer (PostgreSQL).

    .venv/bin/python bench/rewards.py [--members N] [--stock S] [--threads T]

Creates its own database `bench_rewards` on DATABASE_URL's server (unset: the embedded one),
loads the aliexpress preset, gives N members 1,000 points each, then T threads exchange a
merchandise reward with stock S (every member tries once) and a coupon reward (every member
tries 4 times at 300 points: with 700 or 1,000 points left only 2 or 3 may succeed; everyone
must end at exactly 100). Prints exchanges per second, checks that exactly S items went out,
that no balance is wrong and that the ledger is consistent, times `GET
/api/v1/members/{number}/benefits/` through the whole HTTP stack, and drops the database.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._db import bench_url, create_database, drop_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    url = bench_url("bench_rewards")

    create_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.pop("REDIS_URL", None)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url)


def in_threads(count: int, jobs: list, work) -> list[str]:  # type: ignore[no-untyped-def, type-arg]
    from django.db import connection

    results: list[str] = []
    lock = threading.Lock()
    queue = list(jobs)

    def target() -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                outcome = work(job)
                with lock:
                    results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=target) for _i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from benefits.catalogue.models import Reward, RewardExchange
    from benefits.catalogue.rewards import RewardError, reward_exchange
    from benefits.coupons.models import Coupon, CouponTemplate
    from loyalty.ledger.models import Account
    from loyalty.ledger.selectors import ledger_mismatches
    from loyalty.ledger.services import points_award
    from members.models import Member
    from members.services import api_key_create

    call_command("migrate", verbosity=0)
    call_command("load_program", "aliexpress", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    started = time.perf_counter()
    members = Member.objects.bulk_create(
        Member(email=f"m{i}@bench.example", number=f"{i:010d}", password="!")  # noqa: S106 (unusable)
        for i in range(args.members)
    )
    for member in members:
        points_award(member_id=member.pk, points=1000, reason="bench")
    print(
        f"set up {args.members} members with 1,000 points in {time.perf_counter() - started:.1f} s"
    )

    item = Reward.objects.create(name="Bench bag", kind="merchandise", points=300, stock=args.stock)
    template = CouponTemplate.objects.get(code="points-5-off")
    coupon = Reward.objects.create(
        name="Bench coupon", kind="coupon", points=300, coupon_template=template
    )

    def exchange(job: tuple[int, int]) -> str:
        member_id, reward_id = job
        try:
            reward_exchange(member=Member(pk=member_id), reward_id=reward_id)
        except RewardError as exc:
            return exc.code
        return "ok"

    jobs = [(m.pk, item.pk) for m in members]
    started = time.perf_counter()
    outcomes = Counter(in_threads(args.threads, jobs, exchange))
    elapsed = time.perf_counter() - started
    print(
        f"merchandise, stock {args.stock}, {len(jobs)} attempts on {args.threads} threads: "
        f"{dict(outcomes)} in {elapsed:.2f} s ({len(jobs) / elapsed:.0f} attempts/s)"
    )
    item.refresh_from_db()
    sold_ok = outcomes["ok"] == args.stock and item.stock == 0

    jobs = [(m.pk, coupon.pk) for m in members for _i in range(4)]
    started = time.perf_counter()
    outcomes = Counter(in_threads(args.threads, jobs, exchange))
    elapsed = time.perf_counter() - started
    print(
        f"coupons, 4 tries per member on {args.threads} threads: {dict(outcomes)} in "
        f"{elapsed:.2f} s ({len(jobs) / elapsed:.0f} attempts/s)"
    )
    winners = set(RewardExchange.objects.filter(reward=item).values_list("member_id", flat=True))
    balances = dict(Account.objects.values_list("member_id", "balance"))
    wrong = [m.pk for m in members if balances[m.pk] != 100]
    expected = 2 * len(winners) + 3 * (args.members - len(winners))
    spent_ok = outcomes["ok"] == expected and Coupon.objects.count() == expected
    mismatches = ledger_mismatches()
    print(f"wrong balances: {len(wrong)}, ledger mismatches: {len(mismatches)}")

    _key, secret = api_key_create(name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    numbers = [m.number for m in members]
    started = time.perf_counter()
    for i in range(args.requests):
        response = client.get(f"/api/v1/members/{numbers[i % len(numbers)]}/benefits/")
        assert response.status_code == 200
    elapsed = time.perf_counter() - started
    print(
        f"GET /api/v1/members/{{number}}/benefits/: {args.requests} requests in {elapsed:.2f} s "
        f"({elapsed / args.requests * 1000:.2f} ms each, one thread, whole HTTP stack)"
    )
    ok = sold_ok and spent_ok and not wrong and not mismatches
    print(
        f"invariants (exact stock, no overspending, ledger consistent): {'OK' if ok else 'BROKEN'}"
    )


if __name__ == "__main__":
    main()
