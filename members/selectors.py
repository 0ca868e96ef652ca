"""Reads shared by the member pages and the API."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from .models import ApiKey, Member, Notice


def member_by_number(number: str) -> Member | None:
    return Member.objects.filter(number=number, is_active=True).first()


API_KEY_CACHE = "members:api-key:v1:{prefix}"
API_KEY_CACHE_SECONDS = 30


def api_key_for(full_key: str) -> ApiKey | None:
    """The active API key matching `mc_<prefix>.<secret>`, or None.

    Active keys are cached by prefix for API_KEY_CACHE_SECONDS (one cache round trip instead
    of a query per request); `api_key_revoke` drops the entry, so a revoked key is refused
    at once. The secret is checked against the hash on every request."""
    if not full_key.startswith("mc_") or "." not in full_key:
        return None
    prefix = full_key[3:].split(".", 1)[0]
    cache_key = API_KEY_CACHE.format(prefix=prefix)
    key = cache.get(cache_key)
    if key is None:
        key = ApiKey.objects.active().filter(prefix=prefix).first()
        if key is None:
            return None
        cache.set(cache_key, key, API_KEY_CACHE_SECONDS)
    if not hmac.compare_digest(key.key_hash, ApiKey.hash_secret(full_key)):
        return None
    return key


@dataclass(frozen=True)
class MemberStatus:
    email_verified: bool
    unread_notices: int


def member_status(member: Member) -> MemberStatus:
    """Whether the member's email is verified and how many notices are unread: one query."""
    unread = (
        Notice.objects.filter(member=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("member")
        .annotate(n=Count("pk"))
        .values("n")
    )
    row = (
        Member.objects.filter(pk=member.pk)
        .annotate(
            verified=Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)),
            unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
        )
        .values_list("verified", "unread")
        .first()
    )
    verified, count = row if row is not None else (False, 0)
    return MemberStatus(email_verified=bool(verified), unread_notices=int(count))


def request_member_status(request: HttpRequest) -> MemberStatus | None:
    """`member_status` of the logged-in member, computed once per request (the header's
    unread count and the dashboard share it); None for a visitor."""
    user = getattr(request, "user", None)
    if user is None or not isinstance(user, Member):
        return None
    cached = request.__dict__.get("_member_status")
    if cached is None:
        cached = member_status(user)
        request.__dict__["_member_status"] = cached
    return cached
