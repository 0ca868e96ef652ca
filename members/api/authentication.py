"""`Authorization: Api-Key <key>` for the shop's own systems."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from members.models import ApiKey
from members.selectors import api_key_for
from members.services import api_key_touch


class ApiKeyUser:
    """The principal of a request made with an API key (an integration, not a member)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, value = header.partition(" ")
        if keyword != self.keyword:
            return None
        value = value.strip()
        if not value:
            raise exceptions.AuthenticationFailed(_("No API key given."), code="invalid_api_key")
        # A view whose writes check in their own transaction that the key is still active
        # (the shop's events: the earning engine's snapshot, `event_ingest`) may take the key
        # as this process last read it, without the cache round trip: `api_key_memoised`.
        view = (request.parser_context or {}).get("view")
        key = api_key_for(value, memoised=getattr(view, "api_key_memoised", False))
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("Invalid or revoked API key."), code="invalid_api_key"
            )
        now = timezone.now()
        # Throttled bookkeeping: at most one write per key per minute; refused when the key
        # was revoked since it was read (the memoised copy, for one).
        stale = key.last_used_at is None or now - key.last_used_at > self.LAST_USED_RESOLUTION
        if stale and not api_key_touch(key=key, now=now):
            raise exceptions.AuthenticationFailed(
                _("Invalid or revoked API key."), code="invalid_api_key"
            )
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents the API-key header in the OpenAPI schema."""

    target_class = "members.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create one with `manage.py create_api_key NAME`.",
        }
