"""Signing secrets and signatures in the Standard Webhooks format
(https://www.standardwebhooks.com/): a secret is `whsec_<base64 of 24 random bytes>`; a
signature is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the secret's raw
bytes>`, several separated by spaces while two secrets sign.

Secrets are kept encrypted with Fernet (the `cryptography` package), keyed by the
WEBHOOK_SECRETS_KEY setting, or a key derived from SECRET_KEY when it is empty."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from cryptography.fernet import Fernet
from django.conf import settings

PREFIX = "whsec_"
SECRET_BYTES = 24


def secret_new() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The raw key of a `whsec_...` secret."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def _fernet() -> Fernet:
    key = getattr(settings, "WEBHOOK_SECRETS_KEY", "") or ""
    if not key:
        digest = hashlib.sha256(b"webhooks.signing:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one request, signed with each of these secrets."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }
