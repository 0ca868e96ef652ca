"""Reads shared by the member pages and the API."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from .models import ApiKey, Member, Notice, PageVersion
from .page_versions import GLOBAL_KEY


def member_by_number(number: str) -> Member | None:
    return Member.objects.filter(number=number, is_active=True).first()


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


@dataclass(frozen=True)
class MemberStatus:
    email_verified: bool
    unread_notices: int
    # The dashboard's cache versions (members.page_versions): the member's and the program's.
    page_version: int = 0
    program_version: int = 0


def member_status(member: Member) -> MemberStatus:
    """Whether the member's email is verified, how many notices are unread and the page
    versions of the member and of the program: one query."""
    unread = (
        Notice.objects.filter(member=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("member")
        .annotate(n=Count("pk"))
        .values("n")
    )
    versions = PageVersion.objects.values("version")
    row = (
        Member.objects.filter(pk=member.pk)
        .annotate(
            verified=Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)),
            unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
            page_version=Coalesce(Subquery(versions.filter(scope=OuterRef("pk"))), Value(0)),
            program_version=Coalesce(Subquery(versions.filter(scope=GLOBAL_KEY)), Value(0)),
        )
        .values_list("verified", "unread", "page_version", "program_version")
        .first()
    )
    verified, count, page, program = row if row is not None else (False, 0, 0, 0)
    return MemberStatus(
        email_verified=bool(verified),
        unread_notices=int(count),
        page_version=int(page),
        program_version=int(program),
    )


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
