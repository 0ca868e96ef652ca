"""Request fields: the member number, and request bodies that take exactly what the OpenAPI
schema says (core.api.schema documents it).

DRF's CharField turns a JSON number into text and IntegerField takes "5" or 5.0; the schema
says "string" and "integer", so a client that relies on the coercion relies on something
undocumented. `StrictInput` refuses it beside the field instead. Amounts are strings ("12.50"),
never JSON numbers: a binary float cannot carry every amount exactly."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.parsers import UNSTORABLE, unstorable

# An amount: up to ten digits before the point and two after; the second for amounts above zero.
# Text with something besides white space (fields are trimmed) and no NUL (PostgreSQL cannot
# store it); text that may be blank.
TEXT = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
OPTIONAL_TEXT = r"^[^\u0000]*$"
AMOUNT = r"^\d{1,10}(\.\d{1,2})?$"
AMOUNT_ABOVE_ZERO = r"^([1-9]\d{0,9}(\.\d{1,2})?|0\.(0[1-9]|[1-9]\d?))$"

NOT_TEXT = _("Not a valid string.")
AMOUNT_AS_TEXT = _('Send an amount as a string, e.g. "12.50".')
NOT_WHOLE = _("A valid integer is required.")


MEMBER_NUMBER_LENGTH = 10


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^\d{1,10}$", "example": "1234567897"},
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
        if isinstance(data, float) and data.is_integer():
            data = int(data)  # JSON's 5.0 is the integer 5
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        number = unicodedata.normalize("NFKC", str(data)).strip()
        if not number.isascii() or not number.isdigit() or len(number) > MEMBER_NUMBER_LENGTH:
            self.fail("invalid")
        return number


def _wrong_type(field: serializers.Field, value: Any) -> Any:
    if value is None or isinstance(field, MemberNumberField):
        return None  # the field's own allow_null decides; a member number may be a number
    if isinstance(field, serializers.DecimalField):
        return None if isinstance(value, str) else AMOUNT_AS_TEXT
    if isinstance(field, serializers.ChoiceField | serializers.DateField):
        return None if isinstance(value, str) else NOT_TEXT
    if isinstance(field, serializers.CharField) and not isinstance(value, str):
        return NOT_TEXT
    if isinstance(field, serializers.IntegerField) and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())  # JSON's 5.0 is an integer
    ):
        return NOT_WHOLE
    if isinstance(value, str) and unstorable(value):
        return UNSTORABLE
    return None


class StrictInput(serializers.Serializer):
    """A request serializer whose fields take the JSON types the schema documents."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):  # JSON, not a query
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                message = _wrong_type(field, data[name])
                if message is not None:
                    errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
