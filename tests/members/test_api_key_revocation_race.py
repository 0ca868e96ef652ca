"""Revoked API keys against real threads, PostgreSQL and the configured cache (Redis when
REDIS_URL is set): no request that starts after a revocation committed is accepted, on any
path (the cache, the single event endpoint's per-process memo, the bookkeeping write)."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.ledger.services import points_award
from loyalty.program.presets import loaders
from members.api.authentication import ApiKeyAuthentication
from members.models import ApiKey
from members.services import api_key_create, api_key_revoke
from tests import wsgi
from tests.concurrency import run_threads
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

WRITERS = 8
KEYS = 3
PAUSE = 0.4  # seconds of traffic before, between and after the revocations


def _requests(member_numbers: list[str], thread: int) -> Any:
    """Endless (path, body) pairs: member creations, single events, batches, redemptions."""
    for n in itertools.count():
        number = member_numbers[(thread + n) % len(member_numbers)]
        event_id = f"t{thread}-{n}"
        occurred_at = (timezone.now() - timedelta(minutes=1)).isoformat()
        order = {
            "id": event_id,
            "type": "order.received",
            "member": number,
            "occurred_at": occurred_at,
            "order": {"number": f"SO-{event_id}", "amount": "12.50", "currency": "USD"},
        }
        kind = n % 4
        if kind == 0:
            yield "/api/v1/members/", {"email": f"{event_id}@example.com"}
        elif kind == 1:
            yield "/api/v1/events/", order
        elif kind == 2:
            yield "/api/v1/events/batch/", {"events": [order | {"id": f"{event_id}-b"}]}
        else:
            yield (
                f"/api/v1/members/{number}/redemptions/",
                {"id": event_id, "points": 1, "reason": "coupon"},
            )


def test_no_request_started_after_a_revocation_committed_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from config.wsgi import application

    # The bookkeeping write (and its copy of the key put back in the cache) on every request,
    # not once a minute: its window is then open on every request, on every path.
    monkeypatch.setattr(ApiKeyAuthentication, "LAST_USED_RESOLUTION", timedelta(days=-1))
    for load in loaders():
        load("aliexpress")
    keys = [api_key_create(name=f"shop {i}") for i in range(KEYS)]
    members = [MemberFactory() for _ in range(4)]
    for member in members:
        points_award(member_id=member.pk, points=1_000_000, reason="start")
    numbers = [m.number for m in members]
    committed: dict[int, float] = {}
    stop = threading.Event()

    def revoker() -> None:
        for index, (key, _full) in enumerate(keys):
            time.sleep(PAUSE)
            with transaction.atomic():
                # Registered first: runs first, at the moment of the commit.
                transaction.on_commit(lambda i=index: committed.__setitem__(i, time.monotonic()))
                api_key_revoke(key=ApiKey.objects.get(pk=key.pk))
        time.sleep(PAUSE)
        stop.set()

    def writer(thread: int) -> list[tuple[int, float, int, str]]:
        answers = []
        for n, (path, body) in enumerate(_requests(numbers, thread)):
            if stop.is_set():
                break
            index = (thread + n) % KEYS
            started = time.monotonic()
            answer = wsgi.post(application, path, body, keys[index][1])
            answers.append((index, started, answer.status_code, path))
        return answers

    results = run_threads(WRITERS + 1, lambda i: revoker() if i == WRITERS else writer(i))
    answers = [a for per_thread in results[:WRITERS] for a in per_thread]
    assert set(committed) == set(range(KEYS))
    late = [a for a in answers if a[1] > committed[a[0]]]
    early = [a for a in answers if a[1] < committed[a[0]]]
    accepted_late = [a for a in late if a[2] < 400]
    assert accepted_late == []
    assert {status for _i, _t, status, _p in late} == {401}
    # The run did exercise every path with working keys before the revocations.
    assert {p.split("/")[3] for _i, _t, status, p in early if status < 300} >= {"members", "events"}
    assert len(late) > 50
