"""`/api/v1/webhook-endpoints/`: an API key registers, reads, changes, rotates and deletes its
own endpoints; another key's endpoint is not found (404) for every operation; the secret is
in the creation and rotation answers only."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from members.services import api_key_create
from webhooks import signing
from webhooks.models import WebhookEndpoint

from .support import record

pytestmark = pytest.mark.django_db

LIST = "/api/v1/webhook-endpoints/"


def client_of(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def shop() -> APIClient:
    return client_of(api_key_create(name="shop")[1])


@pytest.fixture
def rival() -> APIClient:
    return client_of(api_key_create(name="rival")[1])


def create(client: APIClient, **body: Any) -> dict[str, Any]:
    response = client.post(LIST, {"url": "https://hooks.example.com/in", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_registering_an_endpoint_answers_its_secret_once(shop: APIClient) -> None:
    made = create(shop, description="Checkout", event_types=["tier.changed", "coupon.issued"])
    assert made["url"] == "https://hooks.example.com/in"
    assert made["event_types"] == ["tier.changed", "coupon.issued"]
    assert (made["active"], made["disabled_reason"], made["disabled_at"]) == (True, "", None)
    assert made["secret"].startswith("whsec_")
    Webhook(made["secret"])  # a secret standardwebhooks takes
    endpoint = WebhookEndpoint.objects.get(pk=made["id"])
    assert signing.decrypt(endpoint.secret_encrypted) == made["secret"]

    read = shop.get(f"{LIST}{made['id']}/").json()
    assert "secret" not in read
    assert read == {k: v for k, v in made.items() if k != "secret"}
    listed = shop.get(LIST).json()
    assert [e["id"] for e in listed["results"]] == [made["id"]]
    assert "secret" not in listed["results"][0]


def test_change_rotate_and_delete(shop: APIClient) -> None:
    made = create(shop)
    url = f"{LIST}{made['id']}/"
    changed = shop.patch(url, {"event_types": ["points.earned"]}, format="json")
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["points.earned"]
    assert changed.json()["url"] == made["url"]

    rotated = shop.post(f"{url}rotate-secret/")
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != made["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert signing.decrypt(endpoint.secret_encrypted) == secret
    assert signing.decrypt(endpoint.previous_secret_encrypted) == made["secret"]

    assert shop.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert shop.get(url).json()["code"] == "webhook_endpoint_not_found"


def test_a_key_cannot_see_or_change_another_keys_endpoint(
    shop: APIClient, rival: APIClient
) -> None:
    made = create(shop)
    url = f"{LIST}{made['id']}/"
    answers = [
        rival.get(url),
        rival.patch(url, {"url": "https://evil.example.com/"}, format="json"),
        rival.post(f"{url}rotate-secret/"),
        rival.get(f"{url}messages/"),
        rival.delete(url),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["code"] == "webhook_endpoint_not_found"
    assert rival.get(LIST).json()["results"] == []
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == made["url"]
    assert signing.decrypt(endpoint.secret_encrypted) == made["secret"]
    assert endpoint.previous_secret_encrypted == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({}, "url"),
        ({"url": "https://hooks.example.com/", "event_types": ["tier.exploded"]}, "event_types"),
        ({"url": "https://hooks.example.com/", "description": 5}, "description"),
    ],
)
def test_invalid_bodies_are_refused_beside_the_field_and_nothing_is_written(
    shop: APIClient, body: dict[str, Any], field: str
) -> None:
    answer = shop.post(LIST, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert field in answer.json()["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_production_refuses_a_private_or_plain_http_url_beside_the_field(
    shop: APIClient, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    for url in ("http://hooks.example.com/in", "https://169.254.169.254/", "https://[::1]/"):
        answer = shop.post(LIST, {"url": url}, format="json")
        assert answer.status_code == 400
        assert list(answer.json()["fields"]) == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_a_member_session_is_refused(member_client: APIClient) -> None:
    answer = member_client.get(LIST)
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"


def test_an_id_beyond_bigint_is_not_found(shop: APIClient) -> None:
    answer = shop.get(f"{LIST}{2**70}/")
    assert answer.status_code == 404
    assert answer.json()["code"] == "webhook_endpoint_not_found"


def test_the_list_takes_a_constant_number_of_queries(
    shop: APIClient, django_assert_num_queries: Any
) -> None:
    create(shop)
    shop.get(LIST)  # the key's last use is stamped once a minute
    with django_assert_num_queries(1):
        first = shop.get(LIST)
    for _ in range(5):
        create(shop)
    with django_assert_num_queries(1):
        more = shop.get(LIST)
    assert len(first.json()["results"]) == 1 and len(more.json()["results"]) == 6


@pytest.mark.usefixtures("only_webhooks", "queued")
def test_an_endpoints_messages_are_listed_with_their_webhook_id(shop: APIClient) -> None:
    made = create(shop, event_types=["tier.changed"])
    event = record("tier.changed")
    record("coupon.issued")  # not subscribed
    listed = shop.get(f"{LIST}{made['id']}/messages/").json()["results"]
    assert [(m["webhook_id"], m["type"], m["status"], m["attempts"]) for m in listed] == [
        (str(event.event_id), "tier.changed", "pending", 0)
    ]
