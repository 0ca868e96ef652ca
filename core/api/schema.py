"""The OpenAPI schema says what the API does (drf-spectacular).

- **Security per operation**: an operation whose permission accepts an API key (its
  `credential` is `api_key`) is documented with the API key only, one for members (`session`)
  with the session only, one that takes either with both.
- **Every error status it answers, with the error envelope** (`Error`: code, detail, fields):
  401 and 403 on every authenticated operation; 400 on every operation (a malformed or
  oversized body, a field error, text that cannot be stored, a bad cursor); 404 where the path
  names something; 429 where a throttle applies; and the ones a view documents itself (409,
  422...), which get the envelope's schema when they name only a description.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular import openapi
from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from pydantic.json_schema import model_json_schema
from rest_framework import serializers

from core.api.fields import AMOUNT, AMOUNT_ABOVE_ZERO, OPTIONAL_TEXT, TEXT


class ErrorSerializer(serializers.Serializer):
    """Every API error."""

    code = serializers.CharField(help_text="A stable code, e.g. `invalid`, `member_not_found`.")
    detail = serializers.CharField(help_text="A sentence for people, in the request's language.")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text="Field errors: each field's messages (a list), or a nested object of them.",
    )


DEFAULT_ERRORS = {
    "400": "invalid (field errors), malformed_json, invalid_text (NUL or a lone surrogate), "
    "request_too_large, invalid_cursor, bad_request",
    "401": "not_authenticated, authentication_failed, invalid_api_key",
    "403": "permission_denied (e.g. a member's session on an operation for integrations)",
    "404": "not_found, member_not_found",
    "429": "rate_limited",
}


def _kinds(permission: Any) -> set[str]:
    """The credentials a permission (or `A | B`) accepts: api_key and/or session."""
    credential = getattr(permission, "credential", None)  # e.g. members.api.permissions
    if credential:
        return {credential}
    found: set[str] = set()
    for part in ("op1", "op2"):  # DRF's OR / AND of two permissions
        inner = getattr(permission, part, None)
        if inner is not None:
            found |= _kinds(inner)
    return found


SCHEMES = {"ApiKeyAuth": "api_key", "cookieAuth": "session"}

# What the server takes, said in the schema (a request is refused for exactly what it says):
# text patterns and amounts are in core.api.fields; a calendar day:
DAY = r"^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])$"  # (29 to 31: documented stricter)


class AutoSchema(openapi.AutoSchema):
    def get_auth(self) -> list[Any]:
        auths = super().get_auth()
        kinds: set[str] = set()
        for permission in self.view.get_permissions():
            kinds |= _kinds(permission)
        if not kinds:
            return auths
        return [a for a in auths if not a or SCHEMES.get(next(iter(a))) in kinds]

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or schema.get("readOnly"):
            return schema
        if isinstance(field, serializers.DecimalField):
            above_zero = field.min_value is not None and field.min_value > 0
            schema.pop("format", None)
            schema["pattern"] = AMOUNT_ABOVE_ZERO if above_zero else AMOUNT
        elif isinstance(field, serializers.DateField):
            schema["pattern"] = DAY
        elif isinstance(field, serializers.RegexField):
            schema["pattern"] = next(
                v.regex.pattern for v in field.validators if hasattr(v, "regex")
            )
        elif (
            isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"format", "pattern", "enum"} & set(schema)
        ):
            schema["pattern"] = OPTIONAL_TEXT if field.allow_blank else TEXT
        return schema

    def _get_request_body(self, direction: Any = "request") -> Any:
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True  # every body the API takes has a required field
        return body

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in list(responses.items()):
            if code >= "400" and "content" not in response:
                responses[code] = self._error(code, response.get("description", ""))
        wanted = ["400"]
        if self.get_auth() and {} not in self.get_auth():
            wanted += ["401", "403"]
        if "{" in self.path:
            wanted.append("404")
        if getattr(self.view, "throttle_classes", None):
            wanted.append("429")
        for code in wanted:
            if code not in responses:
                responses[code] = self._error(code, DEFAULT_ERRORS[code])
        return dict(sorted(responses.items()))

    def _error(self, code: str, description: str) -> Any:
        return self._get_response_for_code(
            OpenApiResponse(
                ErrorSerializer, description=description or DEFAULT_ERRORS.get(code, "")
            ),
            code,
        )


class PydanticRequestsAsValidated(PydanticExtension):
    """drf-spectacular's pydantic support documents every model as it serialises; a request
    body is documented as it is validated (what the server accepts: e.g. an amount as a
    number or a string)."""

    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        mode: Literal["validation", "serialization"] = (
            "validation" if direction == "request" else "serialization"
        )
        schema = model_json_schema(
            self.target, ref_template="#/components/schemas/{model}", mode=mode
        )
        for name, sub_schema in schema.pop("$defs", {}).items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub_schema
                )
            )
        return schema
