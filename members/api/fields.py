"""Serializer fields shared by the APIs that take a member."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MEMBER_NUMBER_LENGTH = 10


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "1234567897"},
            {"type": "integer", "minimum": 0, "maximum": 9_999_999_999},
        ],
        "description": "The member's public number: up to 10 digits, as a string or a number.",
    }
)
class MemberNumberField(serializers.CharField):
    """A member's public number, in the one form it is stored and compared (and counted by
    the rate limits): a JSON number or a string, surrounding whitespace dropped, full-width
    digits as ASCII digits (NFKC). Anything but up to 10 digits is refused."""

    default_error_messages = {
        "invalid": _("Give the member's number: up to 10 digits."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The member's public number.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        number = unicodedata.normalize("NFKC", str(data)).strip()
        if not number.isascii() or not number.isdigit() or len(number) > MEMBER_NUMBER_LENGTH:
            self.fail("invalid")
        return number
