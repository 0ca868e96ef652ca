"""The API's JSON parser: DRF's, with JSON nested deeper than Python's recursion limit (a
thousand levels) refused as malformed JSON instead of a 500.

Text PostgreSQL cannot store (NUL characters; lone surrogates, which `\\ud800`-style escapes
produce and UTF-8 cannot encode) is refused beside the field that carries it, by the request
serializers (core.api.fields.StrictInput) and the events' validator
(loyalty/api/payloads.py); in a path or a query string by core.middleware. What the API
ignores (an unknown key) may hold anything.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers

UNSTORABLE = _("Text with a NUL character or a lone surrogate cannot be stored.")


def unstorable(text: str) -> bool:
    """Whether PostgreSQL refuses `text` (NUL, or a lone surrogate: not encodable in UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
