"""Our signer against the independent `standardwebhooks` implementation, over random bodies,
secrets and ids; secrets are kept encrypted."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from members.models import ApiKey
from webhooks import signing
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create


def _secret(raw: bytes) -> str:
    return signing.PREFIX + base64.b64encode(raw).decode()


@given(
    body=st.binary(max_size=2000),
    raw=st.binary(min_size=1, max_size=64),
    other=st.binary(min_size=1, max_size=64),
    msg_id=st.uuids(),
)
@settings(max_examples=200, deadline=None)
def test_standardwebhooks_verifies_what_we_sign_and_only_with_the_secret(
    body: bytes, raw: bytes, other: bytes, msg_id: uuid.UUID
) -> None:
    now = int(time.time())
    headers = signing.headers([_secret(raw)], str(msg_id), now, body)
    Webhook(_secret(raw)).verify(body, headers, json_parse=False)
    if other != raw:
        with pytest.raises(WebhookVerificationError):
            Webhook(_secret(other)).verify(body, headers, json_parse=False)
    if body:
        tampered = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(WebhookVerificationError):
            Webhook(_secret(raw)).verify(tampered, headers, json_parse=False)


@given(text=st.text(max_size=300))
@settings(max_examples=100, deadline=None)
def test_unicode_bodies_sign_as_their_utf8_bytes(text: str) -> None:
    secret = signing.secret_new()
    body = text.encode("utf-8", errors="surrogatepass")
    headers = signing.headers([secret], "msg_1", int(time.time()), body)
    Webhook(secret).verify(body, headers, json_parse=False)


def test_two_secrets_give_two_signatures_each_verified_by_its_own() -> None:
    first, second = signing.secret_new(), signing.secret_new()
    headers = signing.headers([first, second], "msg_2", int(time.time()), b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (first, second):
        assert Webhook(secret).verify(b"{}", headers) == {}


def test_a_new_secret_has_the_whsec_form_and_24_random_bytes() -> None:
    made = {signing.secret_new() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted_and_reads_back(owner: ApiKey, settings: Any) -> None:
    endpoint, secret = endpoint_create(owner=owner, url="http://127.0.0.1:9/hook")
    stored = WebhookEndpoint.objects.values_list("secret_encrypted", flat=True).get()
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert signing.decrypt(stored) == secret
    settings.WEBHOOK_SECRETS_KEY = Fernet.generate_key().decode()
    with pytest.raises(InvalidToken):
        signing.decrypt(stored)  # another key cannot read it
