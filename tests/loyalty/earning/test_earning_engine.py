"""The earning engine around the planner (loyalty/earning/): what it reads under the locks
decides, whatever this process memoised."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.earning import KeyRevoked, OrderReceived, events_apply, store
from loyalty.earning.models import Event, Order
from loyalty.ledger.models import PointEntry, PointLot
from loyalty.program.models import EarningRule, Program
from members.models import Member
from members.services import api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


def _event(member: Member, key: str, number: str, **order: Any) -> dict[str, Any]:
    return {
        "id": key,
        "type": "order.received",
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "order": {"number": number, "amount": "12.50", "currency": "USD", **order},
    }


def test_a_revoked_key_is_refused_from_the_next_request_on(
    api_client: APIClient, member: Member, api_key: tuple[Any, str]
) -> None:
    key = api_key[0]
    first = api_client.post("/api/v1/events/", _event(member, "e1", "SO-1"), format="json")
    assert first.status_code == 201
    api_key_revoke(key=key)
    refused = api_client.post("/api/v1/events/", _event(member, "e2", "SO-2"), format="json")
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert list(Order.objects.values_list("number", flat=True)) == ["SO-1"]


def test_a_revoked_key_is_refused_for_returns_and_batches_too(
    api_client: APIClient, member: Member, api_key: tuple[Any, str]
) -> None:
    key = api_key[0]
    assert (
        api_client.post("/api/v1/events/", _event(member, "e1", "SO-1"), format="json").status_code
        == 201
    )
    api_key_revoke(key=key)
    returned = {
        "id": "r1",
        "type": "order.returned",
        "member": member.number,
        "occurred_at": timezone.now().isoformat(),
        "order": {"number": "SO-1"},
    }
    refused = api_client.post("/api/v1/events/", returned, format="json")
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    batch = api_client.post("/api/v1/events/batch/", {"events": [returned]}, format="json")
    assert (batch.status_code, batch.json()["code"]) == (401, "invalid_api_key")
    assert Event.objects.count() == 1 and PointEntry.objects.count() == 1


def _order(member: Member) -> OrderReceived:
    """An order as the engine takes it (validated, normalised)."""
    return OrderReceived(
        key="e1",
        member_number=member.number,
        occurred_at=timezone.now(),
        number="SO-1",
        amount=Decimal("12.50"),
        currency="USD",
        categories=(),
        digest="d",
    )


def test_a_key_revoked_after_the_request_authenticated_applies_nothing(
    member: Member, api_key: tuple[Any, str]
) -> None:
    """The engine checks the key again under the members' locks, in the snapshot."""
    key, _secret = api_key
    api_key_revoke(key=key)  # after authentication read it: `key` is the object it returned
    order = _order(member)
    [result] = events_apply(api_key=key, events=[order])
    assert isinstance(result, KeyRevoked) and result.code == "invalid_api_key"
    assert not Event.objects.exists() and not PointEntry.objects.exists()


def test_settings_edited_apply_to_the_next_event(api_client: APIClient, member: Member) -> None:
    assert (
        api_client.post("/api/v1/events/", _event(member, "e1", "SO-1"), format="json").json()[
            "points"
        ]
        == 5
    )
    rule = EarningRule.objects.get(kind="shopping")
    rule.points, rule.cap = 7, None
    rule.save()
    again = api_client.post("/api/v1/events/", _event(member, "e2", "SO-2"), format="json")
    assert again.json()["points"] == 7
    program = Program.objects.get(pk=1)
    program.currency = "EUR"
    program.save()
    refused = api_client.post("/api/v1/events/", _event(member, "e3", "SO-3"), format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"order": {"currency": ["Only EUR is accepted."]}}
    euro = api_client.post(
        "/api/v1/events/", _event(member, "e4", "SO-4", currency="eur"), format="json"
    )
    assert euro.status_code == 201
    assert Order.objects.get(number="SO-4").currency == "EUR"


def test_the_entries_carry_the_key_and_the_event(
    api_client: APIClient, api_key: tuple[Any, str], member: Member
) -> None:
    key = api_key[0]
    api_client.post(
        "/api/v1/events/", _event(member, "e1", "SO-1", categories=["a", "b"]), format="json"
    )
    event = Event.objects.get()
    assert set(PointEntry.objects.values_list("api_key_id", "event_id", "order__number")) == {
        (key.pk, event.pk, "SO-1")
    }
    assert PointLot.objects.count() == PointEntry.objects.filter(points__gt=0).count() == 2
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_the_reasons_are_in_the_request_language(api_client: APIClient, member: Member) -> None:
    answer = api_client.post(
        "/api/v1/events/",
        _event(member, "e1", "SO-1"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).json()
    assert answer["entries"][0]["reason"] == "订单 SO-1：获得 5 积分"
    assert PointEntry.objects.get().reason == "订单 SO-1：获得 5 积分"


def test_categories_are_stored_in_the_one_form_the_rules_compare(
    api_client: APIClient, member: Member
) -> None:
    body = _event(
        member, "e1", "SO-1", categories=["Ｓｈｏｅｓ", " bags\u3000", "BAGS", "Home  Decor"]
    )
    assert api_client.post("/api/v1/events/", body, format="json").status_code == 201
    assert Order.objects.get().categories == ["bags", "home decor", "shoes"]


def test_field_errors_are_in_the_request_language(api_client: APIClient, member: Member) -> None:
    body = _event(member, "e1", "SO-1", amount="abc")
    body["id"] = ""
    answer = api_client.post(
        "/api/v1/events/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).json()
    assert answer["fields"] == {
        "id": ["此项不能为空。"],
        "order": {"amount": ["请输入有效的数字。"]},
    }
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("own_transaction", [True, False], ids=["own", "inside-atomic"])
def test_a_write_that_does_not_match_its_plan_commits_nothing(
    member: Member, api_key: tuple[Any, str], monkeypatch: Any, own_transaction: bool
) -> None:
    """The write's row counts are checked before the COMMIT is sent, in the engine's own
    transaction (the API's) as inside Django's: a mismatch leaves nothing behind."""
    # the real write, answered with a count the plan does not have
    call = store.WRITE_SQL.removeprefix("SELECT ")
    monkeypatch.setattr(store, "WRITE_SQL", f"SELECT array_append(({call})[1:7], 99)")
    order = _order(member)
    with pytest.raises(store.WriteMismatch):
        if own_transaction:
            events_apply(api_key=api_key[0], events=[order])
        else:
            with transaction.atomic():
                events_apply(api_key=api_key[0], events=[order])
    assert not Order.objects.exists()
    assert not Event.objects.exists() and not PointEntry.objects.exists()
