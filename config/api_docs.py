"""The Swagger UI page, without inline script: its start script is a static file
(static/js/api-docs.js) reading its settings from data attributes, under a policy of its own
(Swagger UI sets inline styles as it draws; scripts stay same-origin only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from core.headers import policy_header


def api_docs_policy() -> str:
    return policy_header({**settings.SECURE_CSP, "style-src": ["'self'", "'unsafe-inline'"]})


class ApiDocsView(SpectacularSwaggerView):
    template_name = "api/docs.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = api_docs_policy()
        return response
