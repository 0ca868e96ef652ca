"""Reads shared by the member pages and the API."""

from __future__ import annotations

import hmac

from allauth.account.models import EmailAddress

from .models import ApiKey, Member


def member_by_number(number: str) -> Member | None:
    return Member.objects.filter(number=number, is_active=True).first()


def member_email_verified(member: Member) -> bool:
    return EmailAddress.objects.filter(user=member, verified=True).exists()


def api_key_for(full_key: str) -> ApiKey | None:
    """The active API key matching `mc_<prefix>.<secret>`, or None."""
    if not full_key.startswith("mc_") or "." not in full_key:
        return None
    prefix = full_key[3:].split(".", 1)[0]
    key = ApiKey.objects.active().filter(prefix=prefix).first()
    if key is None:
        return None
    if not hmac.compare_digest(key.key_hash, ApiKey.hash_secret(full_key)):
        return None
    return key
