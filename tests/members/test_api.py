from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import ApiKey, Member
from members.selectors import api_key_for
from members.services import api_key_revoke, api_key_touch

pytestmark = pytest.mark.django_db


def test_create_member_201_then_existing_200(api_client: APIClient) -> None:
    body = {"email": "New@Example.com", "birthday": "1992-03-04", "language": "zh-hans"}
    first = api_client.post("/api/v1/members/", body, format="json")
    assert first.status_code == 201
    data = first.json()
    assert data["email"] == "new@example.com"
    assert data["birthday"] == "1992-03-04"
    assert data["language"] == "zh-hans"
    assert set(data) >= {"number", "email", "joined_on", "birthday"}

    again = api_client.post("/api/v1/members/", {"email": "new@example.com"}, format="json")
    assert again.status_code == 200
    assert again.json()["number"] == data["number"]
    assert Member.objects.count() == 1


def test_create_member_with_bad_fields_is_a_json_400(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/members/", {"email": "not-an-email", "birthday": "1992-13-40"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"email", "birthday"}
    assert not Member.objects.exists()


def test_future_birthday_is_a_field_error(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/members/", {"email": "x@example.com", "birthday": "2999-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert "birthday" in response.json()["fields"]
    assert not Member.objects.exists()


def test_malformed_json_is_a_json_400(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/members/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_no_credentials_is_401_with_code() -> None:
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    response = APIClient().post("/api/v1/members/", {"email": "a@b.co"}, format="json")
    assert response.status_code == 401


def test_wrong_api_key_is_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key mc_deadbeef.not-the-secret")
    response = client.post("/api/v1/members/", {"email": "a@b.co"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert not Member.objects.exists()


def test_revoked_api_key_is_401(api_key: tuple[ApiKey, str]) -> None:
    key, full = api_key
    api_key_revoke(key=key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {full}")
    response = client.get("/api/v1/members/123/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_cached_api_key_is_refused_once_revoked(
    api_client: APIClient, api_key: tuple[ApiKey, str], member: Member
) -> None:
    assert api_client.get(f"/api/v1/members/{member.number}/").status_code == 200  # cached
    api_key_revoke(key=api_key[0])
    response = api_client.get(f"/api/v1/members/{member.number}/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_copy_written_back_after_the_revocation_is_never_used(
    api_client: APIClient,
    api_key: tuple[ApiKey, str],
    member: Member,
    django_capture_on_commit_callbacks: Any,
) -> None:
    key, full = api_key
    in_flight = api_key_for(full)  # a request read the key before the revocation...
    assert in_flight is not None
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(key=key)
    api_key_touch(key=in_flight, now=timezone.now())  # ...and records its use after it
    response = api_client.get(f"/api/v1/members/{member.number}/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    key.refresh_from_db()
    assert key.last_used_at is None  # nothing recorded for a revoked key


def _returned(number: str) -> dict[str, Any]:
    return {
        "id": f"ret-{number}",
        "type": "order.returned",
        "member": number,
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "order": {"number": "SO-NOPE"},
    }


def test_the_single_event_endpoints_memo_is_refused_once_revoked(
    api_client: APIClient,
    api_key: tuple[ApiKey, str],
    member: Member,
    django_capture_on_commit_callbacks: Any,
) -> None:
    key, full = api_key
    first = api_client.post("/api/v1/events/", _returned(member.number), format="json")
    assert first.json()["code"] == "order_not_found"  # authenticated; the key is memoised
    memo = api_key_for(full, memoised=True)
    assert memo is not None
    memo.last_used_at = timezone.now() - timedelta(minutes=2)  # its next use is recorded
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(key=key)
    for path, body in [
        ("/api/v1/events/", _returned(member.number)),
        ("/api/v1/members/", {"email": "late@example.com"}),
    ]:
        response = api_client.post(path, body, format="json")
        assert response.status_code == 401, path
        assert response.json()["code"] == "invalid_api_key"
    assert api_client.get(f"/api/v1/members/{member.number}/").status_code == 401
    assert not Member.objects.exclude(pk=member.pk).exists()


def test_a_revoked_key_in_flight_cannot_tell_known_members_from_unknown_ones(
    api_client: APIClient,
    api_key: tuple[ApiKey, str],
    member: Member,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The single event endpoint takes the key as this process last read it (and recorded its
    # use a moment ago): a request in flight during the revocation, for the ledger events.
    first = api_client.post("/api/v1/events/", _returned(member.number), format="json")
    assert first.json()["code"] == "order_not_found"
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(key=api_key[0])
    answers = [
        api_client.post("/api/v1/events/", _returned(number) | {"type": kind}, format="json")
        for number in (member.number, "0000000000")
        for kind in ("order.returned", "order.fraud")
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(401, "invalid_api_key")] * 4


def test_a_cached_api_key_is_checked_against_its_secret(
    api_client: APIClient, api_key: tuple[ApiKey, str], member: Member
) -> None:
    assert api_client.get(f"/api/v1/members/{member.number}/").status_code == 200  # cached
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}x")
    response = client.get(f"/api/v1/members/{member.number}/")
    assert response.status_code == 401


def test_a_cached_api_key_records_its_last_use_once_a_minute(
    api_client: APIClient, api_key: tuple[ApiKey, str], member: Member
) -> None:
    api_client.get(f"/api/v1/members/{member.number}/")  # caches the key, records its use
    with CaptureQueriesContext(connection) as queries:
        assert api_client.get(f"/api/v1/members/{member.number}/").status_code == 200
    # no key lookup and no second last-use write
    assert [q["sql"] for q in queries.captured_queries if "members_apikey" in q["sql"]] == []


def test_api_key_records_last_use(api_client: APIClient, api_key: tuple[ApiKey, str]) -> None:
    assert api_key[0].last_used_at is None
    api_client.post("/api/v1/members/", {"email": "z@example.com"}, format="json")
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


def test_get_member_by_number(api_client: APIClient, member: Member) -> None:
    response = api_client.get(f"/api/v1/members/{member.number}/")
    assert response.status_code == 200
    assert response.json()["email"] == member.email


def test_unknown_member_number_is_404_member_not_found(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/members/1234567890/")
    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_member_sees_self_but_another_members_number_is_404(
    member_client: APIClient, member: Member, make_member
) -> None:
    other = make_member()
    assert member_client.get(f"/api/v1/members/{member.number}/").status_code == 200
    response = member_client.get(f"/api/v1/members/{other.number}/")
    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_me(member_client: APIClient, member: Member) -> None:
    response = member_client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["number"] == member.number


def test_integration_cannot_use_me(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_unknown_api_path_is_json_404(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_create_api_key_command_prints_a_working_key_last() -> None:
    out = io.StringIO()
    call_command("create_api_key", "warehouse", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.post("/api/v1/members/", {"email": "w@example.com"}, format="json")
    assert response.status_code == 201
    stored = ApiKey.objects.get(name="warehouse")
    assert key not in (stored.key_hash, stored.prefix)  # only a hash is stored


def test_schema_and_docs_are_served_without_a_cdn(client) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/members/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_admin_creates_a_key_shown_once_and_revokes_it(client, make_member) -> None:
    staff = make_member(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post("/admin/members/apikey/add/", {"name": "pos"}, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get(name="pos")
    shown = [str(m) for m in response.context["messages"]]
    full = next(m for m in shown if "mc_" in m).split("<code>")[1].split("</code>")[0]
    assert full.startswith(f"mc_{key.prefix}.")
    assert key.key_hash == ApiKey.hash_secret(full) and full not in (key.key_hash, key.prefix)
    # The key works, then the admin's revoke action stops it.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {full}")
    assert api.get("/api/v1/tiers/").status_code == 200
    client.post("/admin/members/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("/api/v1/tiers/").status_code == 401
    # The list never shows the key again.
    assert full not in client.get("/admin/members/apikey/").content.decode()
