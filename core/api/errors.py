"""Every API error is JSON: {"code": "...", "detail": "...", "fields": {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.pagination import InvalidCursor


class ApiError(exceptions.APIException):
    """An error with a stable code, raised by views: ApiError(409, "coupon_used", "...")."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_code = code
        self.fields = fields or {}
        super().__init__(detail=detail, code=code)


_DEFAULT_CODES = {
    InvalidCursor: "invalid_cursor",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_json",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "fields": fields or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), _flatten(exc.fields))
    elif isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields: dict[str, Any]
        if isinstance(detail, dict):
            fields = _flatten(detail)
            non_field = fields.pop("non_field_errors", None)
            message = "; ".join(non_field) if non_field else "Some fields are invalid."
        else:
            fields = {}
            message = "; ".join(_flatten(detail)) if isinstance(detail, list) else str(detail)
        body = error_body("invalid", message, fields)
    else:
        code = next(
            (c for cls, c in _DEFAULT_CODES.items() if isinstance(exc, cls)),
            None,
        )
        if code is None:
            codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
            code = codes if isinstance(codes, str) else "error"
        if isinstance(exc, exceptions.AuthenticationFailed):
            codes = exc.get_codes()
            if isinstance(codes, str) and codes != "authentication_failed":
                code = codes
        detail_text = str(getattr(exc, "detail", exc))
        body = error_body(code, detail_text)
    response.data = body
    return response


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """A request refused before any view (Django's SuspiciousOperation): the body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields, a bad Host header..."""
    if isinstance(exception, RequestDataTooBig):
        body = error_body("request_too_large", _("The request body is too large."))
    else:
        body = error_body("bad_request", _("Bad request."))
    return JsonResponse(body, status=status.HTTP_400_BAD_REQUEST)


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", _("Not found.")), status=status.HTTP_404_NOT_FOUND)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body("server_error", _("Something went wrong on our side.")),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
