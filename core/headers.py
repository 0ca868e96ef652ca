"""Security headers on every answer: a Content-Security-Policy, a Permissions-Policy, and
`Cache-Control: private, no-store` on what is personal.

The policy is read from `SECURE_CSP` (and `SECURE_CSP_REPORT_ONLY`), shaped like Django 6.0's
settings of the same names (a directive -> a list of sources, or True for a directive without
sources), so that Django's own middleware can replace this one without touching the settings.
A view with needs of its own (the API docs) sets its own header; it is then left as it is.
Why not django-csp: ADR 0014.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Answers with personal data: never kept by the browser or a shared cache.
PRIVATE_PATHS = ("/me/", "/accounts/", "/api/v1/")


def policy_header(policy: Mapping[str, Sequence[str] | bool]) -> str:
    """{"default-src": ["'self'"], "upgrade-insecure-requests": True} ->
    "default-src 'self'; upgrade-insecure-requests"."""
    parts = []
    for directive, sources in policy.items():
        if sources is True:
            parts.append(directive)
        elif sources:
            parts.append(" ".join([directive, *sources]))
    return "; ".join(parts)


def permissions_header(policy: Mapping[str, Sequence[str]]) -> str:
    """{"camera": [], "payment": ["self"]} -> "camera=(), payment=(self)"."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items())


def _signed_in(request: HttpRequest) -> bool:
    # Only a request with a session cookie can be signed in: a visitor's is not read.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = policy_header(getattr(settings, "SECURE_CSP", {}))
        self.csp_report_only = policy_header(getattr(settings, "SECURE_CSP_REPORT_ONLY", {}))
        self.permissions = permissions_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.csp:
            response.headers.setdefault("Content-Security-Policy", self.csp)
        if self.csp_report_only:
            response.headers.setdefault("Content-Security-Policy-Report-Only", self.csp_report_only)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        if request.path.startswith(PRIVATE_PATHS) or _signed_in(request):
            response.headers["Cache-Control"] = "private, no-store"
        return response
