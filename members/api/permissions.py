from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from members.models import ApiKey, Member


class IsIntegration(BasePermission):
    """The request carries a valid API key."""

    credential = "api_key"  # what the OpenAPI schema names as this operation's security

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class IsMember(BasePermission):
    """A logged-in member (session), not an integration."""

    credential = "session"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Member) and request.user.is_authenticated
