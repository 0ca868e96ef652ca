"""Bad input is never a 500: every request the outside attack found (NUL characters and lone
surrogates, dates that overflow, JSON nested a thousand deep, a crafted cursor, a 10 MB body,
a batch with one bad event) answers 400 with the JSON envelope and a stable code, and writes
nothing it should not."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from benefits.coupons.models import Coupon
from loyalty.earning.models import Event, Order
from loyalty.ledger.models import PointEntry
from loyalty.program.presets import loaders
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def program(db: Any) -> None:
    for load in loaders():
        load("aliexpress")


def order(member: Member, key: str = "e1", number: str = "SO-1", **extra: Any) -> dict[str, Any]:
    body = {
        "id": key,
        "type": "order.received",
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "order": {"number": number, "amount": "12.50", "currency": "USD", "categories": []},
    }
    body.update(extra)
    return body


def raw_post(client: APIClient, path: str, body: str | bytes) -> Any:
    return client.post(path, data=body, content_type="application/json")


def envelope(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "detail", "fields"}
    return body


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("id", "e\x00"),
        ("member", "12345\x00"),
        ("number", "SO\x00-1"),
        ("category", "sho\x00es"),
        ("id", "\ud800"),
        ("number", "SO-\udfff"),
    ],
)
def test_unstorable_text_in_an_event_is_a_field_error(
    api_client: APIClient, member: Member, where: str, text: str
) -> None:
    body = order(member)
    if where in ("id", "member"):
        body[where] = text
    elif where == "number":
        body["order"]["number"] = text
    else:
        body["order"]["categories"] = ["bags", text]
    # json.dumps escapes a lone surrogate as \\ud800, as a client's JSON encoder would
    response = raw_post(api_client, "/api/v1/events/", json.dumps(body))
    answer = envelope(response, "invalid")
    assert answer["fields"], answer
    assert not Event.objects.exists() and not Order.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/members/%00/",
        "/api/v1/members/%00/points/",
        "/api/v1/members/%00/coupons/",
        "/api/v1/members/%00/benefits/",
    ],
)
def test_a_nul_in_a_path_segment_is_refused(api_client: APIClient, path: str) -> None:
    envelope(api_client.get(path), "invalid_text")


def test_a_nul_in_a_query_parameter_is_refused(api_client: APIClient, member: Member) -> None:
    envelope(api_client.get(f"/api/v1/members/{member.number}/points/?kind=%00"), "invalid_text")
    page = APIClient()
    page.force_login(member)
    response = page.get("/me/points/?kind=%00")
    assert response.status_code == 400  # a plain page outside the API


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/members/", "name"),
        ("/api/v1/coupons/validate/", "code"),
        ("/api/v1/coupons/redeem/", "order_number"),
    ],
)
@pytest.mark.parametrize("text", ["A\x00B", "A\ud800"], ids=["nul", "lone-surrogate"])
def test_unstorable_text_in_another_json_body_is_a_field_error(
    api_client: APIClient, member: Member, path: str, field: str, text: str
) -> None:
    """Beside the field that carries it; what the API ignores (an unknown key) may hold
    anything without harm."""
    body = {
        "email": "a@example.com",
        "id": "r-1",
        "code": "X",
        "member": member.number,
        "order_number": "SO-1",
        "order_amount": "10.00",
        "currency": "USD",
        field: text,
        "ignored": {"k\x00": ["\ud800"]},
    }
    answer = envelope(raw_post(api_client, path, json.dumps(body)), "invalid")
    assert list(answer["fields"]) == [field], answer


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_moment_that_overflows_is_a_field_error(
    api_client: APIClient, member: Member, moment: str
) -> None:
    answer = envelope(
        api_client.post("/api/v1/events/", order(member, occurred_at=moment), format="json"),
        "invalid",
    )
    assert list(answer["fields"]) == ["occurred_at"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/",
        "/api/v1/events/batch/",
        "/api/v1/members/",
        "/api/v1/coupons/validate/",
        "/api/v1/coupons/redeem/",
        "/api/v1/coupons/release/",
    ],
)
def test_json_nested_a_thousand_deep_is_malformed(api_client: APIClient, path: str) -> None:
    deep = '{"events": ' + "[" * 1200 + "]" * 1200 + "}"
    envelope(raw_post(api_client, path, deep), "malformed_json")


def _cursor(position: str) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize("position", ["2099-01-01", "x" * 40, "1.5"])
def test_a_crafted_cursor_is_refused(api_client: APIClient, member: Member, position: str) -> None:
    cursor = _cursor(position)
    session = APIClient()
    session.force_login(member)
    for client, path in (
        (session, "/api/v1/me/coupons/"),
        (api_client, f"/api/v1/members/{member.number}/coupons/"),
    ):
        envelope(client.get(f"{path}?cursor={cursor}"), "invalid_cursor")
    envelope(client.get(f"{path}?cursor=not-base64!"), "invalid_cursor")


def test_a_crafted_cursor_on_the_points_history_is_refused(
    api_client: APIClient, member: Member
) -> None:
    for position in ("99999-01-01", "not a date"):
        response = api_client.get(
            f"/api/v1/members/{member.number}/points/?cursor={_cursor(position)}"
        )
        envelope(response, "invalid_cursor")


def test_a_body_over_the_limit_is_the_json_envelope(api_client: APIClient) -> None:
    body = b'{"a": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    envelope(raw_post(api_client, "/api/v1/events/", body), "request_too_large")


def test_a_batch_with_one_bad_event_answers_the_others(
    api_client: APIClient, member: Member
) -> None:
    events = [
        order(member, "e1", "SO-1"),
        order(member, "e\x00", "SO-2"),
        order(member, "e3", "SO-\ud800"),
        order(member, "e4", "SO-4", occurred_at="0001-01-01T00:00:00+01:00"),
        order(member, "e5", "SO-5"),
    ]
    response = raw_post(api_client, "/api/v1/events/batch/", json.dumps({"events": events}))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 201]
    assert {r["code"] for r in results[1:4]} == {"invalid"}
    assert set(Order.objects.values_list("number", flat=True)) == {"SO-1", "SO-5"}
    assert PointEntry.objects.count() == 2
    again = raw_post(api_client, "/api/v1/events/batch/", json.dumps({"events": events}))
    assert [r["status"] for r in again.json()["results"]] == [200, 400, 400, 400, 200]
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["order"].update(number=12345), "number"),
        (lambda body: body.update(id=7), "id"),
        (lambda body: body.update(member=10000001), "member"),
        (lambda body: body.update(occurred_at=1764000000), "occurred_at"),
        (lambda body: body["order"].update(categories=["bags", "  "]), "categories"),
        (lambda body: body["order"].update(amount=12.5), "amount"),
    ],
    ids=["number-as-int", "id-as-int", "member-as-int", "unix-time", "blank-category", "float"],
)
def test_an_event_field_is_exactly_what_the_schema_says(
    api_client: APIClient, member: Member, change: Any, field: str
) -> None:
    """No number taken for a string, no Unix time for an ISO 8601 moment, no blank category
    dropped silently: what the server takes is what the OpenAPI schema documents."""
    body = order(member)
    change(body)
    answer = envelope(api_client.post("/api/v1/events/", body, format="json"), "invalid")
    flat = json.dumps(answer["fields"])
    assert field in flat, answer
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/v1/coupons/validate/", "order_amount", 25.5),
        ("/api/v1/coupons/validate/", "code", 12345),
        ("/api/v1/members/", "name", 7),
    ],
)
def test_a_request_field_is_exactly_what_the_schema_says(
    api_client: APIClient, member: Member, path: str, field: str, value: Any
) -> None:
    body = {
        "email": "b@example.com",
        "code": "X",
        "member": member.number,
        "order_amount": "10.00",
        "currency": "USD",
        field: value,
    }
    answer = envelope(api_client.post(path, body, format="json"), "invalid")
    assert list(answer["fields"]) == [field], answer
    assert not Member.objects.filter(email="b@example.com").exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [("page_size=abc", "page_size"), ("page_size=0", "page_size"), ("kind=nope", "kind")],
)
def test_a_query_parameter_outside_the_schema_is_refused(
    api_client: APIClient, member: Member, query: str, field: str
) -> None:
    """Not silently replaced by the default (the schema says what is allowed)."""
    response = api_client.get(f"/api/v1/members/{member.number}/points/?{query}")
    assert list(envelope(response, "invalid")["fields"]) == [field]
