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
    def get_page_size(self, request: Any) -> int:
        """`page_size` is a whole number from 1 (more than the most is the most); anything
        else is refused, not silently replaced by the default."""
        raw = request.query_params.get(self.page_size_query_param or "")
        if raw is None:
            assert self.page_size is not None
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({"page_size": [_("A whole number from 1.")]})
        return min(int(raw), self.max_page_size or int(raw))

    def get_schema_operation_parameters(self, view: Any) -> Any:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

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
