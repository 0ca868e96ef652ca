"""Middleware of the portal's own."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from core.api.errors import error_body
from core.api.parsers import UNSTORABLE, unstorable


class RefuseUnstorableText:
    """A path or query string with text PostgreSQL cannot store (a NUL character, as in
    `/api/v1/members/%00/` or `?kind=%00`) is refused with 400 before any view looks it up:
    the error envelope under /api/, a plain page elsewhere. (JSON bodies: core.api.parsers;
    forms: Django's form fields refuse NUL characters themselves.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if unstorable(request.path) or any(
            unstorable(key) or any(unstorable(value) for value in values)
            for key, values in request.GET.lists()
        ):
            detail = str(UNSTORABLE)
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("invalid_text", detail), status=400)
            return HttpResponseBadRequest(detail)
        return self.get_response(request)
