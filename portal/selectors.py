"""What every member page reads first: the email's verification, the unread notices and the
dashboard's page versions, in one query per request."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import connection
from django.http import HttpRequest

from members.models import Member
from portal.models import Notice, PageVersion
from portal.page_versions import GLOBAL_KEY


@dataclass(frozen=True)
class MemberStatus:
    email_verified: bool
    unread_notices: int
    # The dashboard's cache versions (portal.page_versions): the member's and the program's.
    page_version: int = 0
    program_version: int = 0
    # The narrower program-wide scopes' versions ((scope, version) pairs: core.cache.Scope),
    # under which the page's cached reads (settings, ladder, showcase) are taken.
    scope_versions: tuple[tuple[int, int], ...] = ()


# Raw SQL: every request of a member page runs it, and building the same query with the ORM
# (four correlated subqueries) cost more than the round trip itself.
_STATUS_SQL = f"""
SELECT
    EXISTS (SELECT 1 FROM {EmailAddress._meta.db_table} WHERE user_id = %s AND verified),
    (SELECT COUNT(*) FROM {Notice._meta.db_table} WHERE member_id = %s AND read_at IS NULL),
    COALESCE((SELECT version FROM {PageVersion._meta.db_table} WHERE scope = %s), 0),
    COALESCE((SELECT version FROM {PageVersion._meta.db_table} WHERE scope = {GLOBAL_KEY}), 0),
    ARRAY(SELECT ARRAY[scope, version] FROM {PageVersion._meta.db_table} WHERE scope < 0)
"""  # noqa: S608 (table names from the models, values as parameters)


def member_status(member: Member) -> MemberStatus:
    """Whether the member's email is verified, how many notices are unread and the page
    versions of the member, of the program and of its narrower scopes
    (portal.page_versions): one query."""
    with connection.cursor() as cursor:
        cursor.execute(_STATUS_SQL, [member.pk, member.pk, member.pk])
        verified, count, page, program, scopes = cursor.fetchone()
    return MemberStatus(
        email_verified=bool(verified),
        unread_notices=int(count),
        page_version=int(page),
        program_version=int(program),
        scope_versions=tuple((int(scope), int(version)) for scope, version in scopes),
    )


def request_member_status(request: HttpRequest, *, refresh: bool = False) -> MemberStatus | None:
    """`member_status` of the logged-in member, computed once per request (the header's
    unread count and the dashboard share it; `refresh` after a write); None for a visitor."""
    user = getattr(request, "user", None)
    if user is None or not isinstance(user, Member):
        return None
    cached = request.__dict__.get("_member_status")
    if cached is None or refresh:
        cached = member_status(user)
        request.__dict__["_member_status"] = cached
    return cached
