"""Cursor pagination whose every bad cursor is a 400 with the stable code `invalid_cursor`.

DRF answers an undecodable cursor with 404, and a decodable one whose position does not fit
the ordering field (`?cursor=` base64 of `p=2099-01-01` on a list ordered by id) reached the
database and failed there (500)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination


class InvalidCursor(exceptions.APIException):
    status_code = 400
    default_detail = _("Invalid cursor.")
    default_code = "invalid_cursor"


class CursorPagination(pagination.CursorPagination):
    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise InvalidCursor from None

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError, DataError):
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise InvalidCursor from None
