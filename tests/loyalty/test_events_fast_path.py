"""`POST /api/v1/events/` in front of Django's stack (loyalty/api/fast.py), through the real
WSGI application: the same answers, bytes and headers as Django and DRF give; everything it
does not take reaches Django untouched; its memos of the API key and the program settings
never outlive a revocation or an edit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.views import APIView

from loyalty.api import fast
from loyalty.models import Event, Order, PointEntry, Program
from loyalty.services import account_open
from members.services import api_key_revoke
from tests.factories import MemberFactory
from tests.wsgi import Answer, post


@pytest.fixture
def framed_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests DRF's APIView handled (the fast path's never reach it)."""
    calls: list[str] = []
    initial = APIView.initial

    def counting(self: APIView, request: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(request.path)
        initial(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initial", counting)
    return calls


@pytest.fixture
def wsgi() -> Iterator[Any]:
    """Call the project's WSGI application (built here, so override_settings applies) as a
    server would, inside the test's transaction: like Django's test client, it keeps the
    request signals from closing the test's connection."""

    def call(body: Any, key: str | None, app: Any = None, **extra: str) -> Answer:
        handler = app or fast.EventsFastPath(WSGIHandler())
        return post(handler, fast.EVENTS_PATH, body, key, **extra)

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield call
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _event(member: Any, key: str, number: str, **order: Any) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "order": {"number": number, "amount": "12.50", "currency": "USD", "categories": ["a"]}
        | order,
    }


@pytest.fixture
def two(program: None) -> tuple[Any, Any]:
    one, two = MemberFactory(), MemberFactory()
    for m in (one, two):
        account_open(member_id=m.pk)
    return one, two


def test_the_path_is_the_events_url() -> None:
    assert reverse("api-events") == fast.EVENTS_PATH


def _same(fast_answer: Answer, framed: Answer, one: Any, two: Any) -> None:
    assert fast_answer.status_code == framed.status_code
    assert fast_answer.body.replace(one.number.encode(), b"M").replace(b"1", b"N") == (
        framed.body.replace(two.number.encode(), b"M").replace(b"2", b"N")
    )
    assert fast_answer.headers == framed.headers


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"HTTP_ACCEPT_LANGUAGE": "zh-hans"},
        {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_ACCEPT": "*/*"},
    ],
    ids=["plain", "chinese", "https"],
)
@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_HSTS_SECONDS=3600,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
)
def test_answers_the_bytes_and_headers_django_answers(
    two: tuple[Any, Any],
    api_key: tuple[Any, str],
    wsgi: Any,
    framed_calls: list[str],
    extra: dict[str, str],
) -> None:
    one, other = two
    secret = api_key[1]
    first = _event(one, "e1", "SO-1")
    answer = wsgi(first, secret, **extra)
    assert answer.status_code == 201 and framed_calls == []  # DRF never saw it
    # the same request shape, which the fast path leaves to Django (an Accept it does not
    # take; DRF negotiates JSON all the same)
    framed = wsgi(
        _event(other, "e2", "SO-2"), secret, **(extra | {"HTTP_ACCEPT": "application/json, */*"})
    )
    assert framed_calls == [fast.EVENTS_PATH]
    _same(answer, framed, one, other)
    if extra.get("HTTP_X_FORWARDED_PROTO") == "https":
        assert answer.headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    if "HTTP_ACCEPT_LANGUAGE" in extra:
        assert answer.headers["Content-Language"] == "zh-hans"
        assert "订单" in answer.json()["entries"][0]["reason"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    # a replay: the stored answer, 200, from the fast path too
    again = wsgi(first, secret, **extra)
    assert (again.status_code, again.json()) == (200, answer.json())
    assert framed_calls == [fast.EVENTS_PATH]
    assert Event.objects.count() == 2 and Order.objects.count() == 2


def test_leaves_everything_else_to_django(
    two: tuple[Any, Any], api_key: tuple[Any, str], wsgi: Any, framed_calls: list[str]
) -> None:
    member = two[0]
    secret = api_key[1]
    assert wsgi(_event(member, "e1", "SO-1"), secret).status_code == 201
    changed = _event(member, "e1", "SO-9", amount="1.00")
    conflict = wsgi(changed, secret)
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    taken = wsgi(_event(member, "e2", "SO-1"), secret)
    assert (taken.status_code, taken.json()["code"]) == (409, "order_already_received")
    ghost = _event(member, "e3", "SO-3") | {"member": "0000000000"}
    missing = wsgi(ghost, secret)
    assert (missing.status_code, missing.json()["code"]) == (404, "member_not_found")
    html = wsgi(_event(member, "e4", "SO-4"), secret, HTTP_ACCEPT="text/html")
    assert html.status_code == 406
    nan = wsgi(b'{"id": NaN}', secret)
    assert (nan.status_code, nan.json()["code"]) == (400, "malformed_json")
    bad_key = wsgi(_event(member, "e5", "SO-5"), "mc_nothere.secret")
    assert bad_key.status_code == 401
    no_key = wsgi(_event(member, "e6", "SO-6"), None)
    assert no_key.status_code in (401, 403)
    assert no_key.json()["code"]
    cents = wsgi(_event(member, "e7", "SO-7", amount="1.005"), secret)
    assert cents.status_code == 400 and "order" in cents.json()["fields"]
    with override_settings(ALLOWED_HOSTS=["shop.example"]):
        app = fast.EventsFastPath(WSGIHandler())
        refused_host = wsgi(_event(member, "e8", "SO-8"), secret, app=app)
    assert refused_host.status_code == 400
    # each of these went through DRF (or was refused before it) and wrote nothing
    assert len(framed_calls) == 8
    assert Event.objects.count() == 1 and Order.objects.count() == 1


def test_a_key_revoked_after_it_was_memoised_is_refused_at_once(
    two: tuple[Any, Any], api_key: tuple[Any, str], wsgi: Any
) -> None:
    member = two[0]
    key, secret = api_key
    assert wsgi(_event(member, "e1", "SO-1"), secret).status_code == 201
    assert key.prefix in fast._KEYS
    api_key_revoke(key=key)
    refused = wsgi(_event(member, "e2", "SO-2"), secret)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert key.prefix not in fast._KEYS
    assert Order.objects.count() == 1


def test_settings_edited_after_they_were_memoised_apply_to_the_next_event(
    two: tuple[Any, Any], api_key: tuple[Any, str], wsgi: Any
) -> None:
    member = two[0]
    secret = api_key[1]
    assert wsgi(_event(member, "e1", "SO-1"), secret).status_code == 201
    version_before = fast._PROGRAM[0][0]
    program = Program.objects.get(pk=1)
    program.currency = "EUR"
    program.save()
    refused = wsgi(_event(member, "e2", "SO-2"), secret)  # USD, as the memo still says
    assert refused.status_code == 400
    assert "currency" in json.dumps(refused.json()["fields"])
    assert fast._PROGRAM[0][0] != version_before
    assert fast._PROGRAM[0][1].currency == "EUR"
    euro = wsgi(_event(member, "e3", "SO-3", currency="EUR"), secret)
    assert euro.status_code == 201
    assert list(Order.objects.values_list("number", flat=True).order_by("id")) == [
        "SO-1",
        "SO-3",
    ]


def test_the_reasons_match_the_python_path_in_every_language(program: None) -> None:
    """The positional templates handed to format() say what the Python templates say."""
    from django.conf import settings
    from django.db import connection
    from django.utils import translation

    from loyalty.receive_sql import TEXT_ARGS, TEXTS, positional

    values = {
        "number": "SO-1",
        "what": "order SO-1",
        "points": 5,
        "cap": "daily shopping cap of 5",
        "min": "1.00",
        "currency": "USD",
        "campaign": "Double points",
        "order": "SO-1",
        "n": 2,
        "day": "2026-11-22",
        "subject": "shopping",
    }
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for name, msgid in TEXTS.items():
                template = translation.gettext(msgid)
                these = values | ({"cap": 5} if name.startswith("cap_") else {})
                args = [these[a] for a in TEXT_ARGS[name]]
                with connection.cursor() as cursor:
                    placeholders = ", ".join(["%s"] * len(args))
                    cursor.execute(
                        f"SELECT format(%s, {placeholders})",  # noqa: S608
                        [positional(name, template), *args],
                    )
                    assert cursor.fetchone()[0] == template % these, (code, name)


def test_the_entries_of_a_fast_event_carry_the_key(
    two: tuple[Any, Any], api_key: tuple[Any, str], wsgi: Any
) -> None:
    key, secret = api_key
    assert wsgi(_event(two[0], "e1", "SO-1"), secret).status_code == 201
    assert set(PointEntry.objects.values_list("api_key_id", flat=True)) == {key.pk}
    key.refresh_from_db()
    assert key.last_used_at is not None
