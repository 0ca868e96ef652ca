"""The API's JSON parser: DRF's, with the refusals a 500 used to answer instead.

- JSON nested deeper than Python's recursion limit (a thousand levels) is malformed JSON;
- text PostgreSQL cannot store (NUL characters; lone surrogates, which `\\ud800`-style escapes
  produce and UTF-8 cannot encode) is refused anywhere in the body, keys included, with the
  stable code `invalid_text`, before any view sees it. The shop's events are the exception
  (`TextCheckedLater`): a batch answers per event, so their validator checks each text field
  (loyalty/api/payloads.py) and one bad event does not refuse the others.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers


class InvalidText(exceptions.ParseError):
    default_detail = _("Text with a NUL character or a lone surrogate cannot be stored.")
    default_code = "invalid_text"


def unstorable(text: str) -> bool:
    """Whether PostgreSQL refuses `text` (NUL, or a lone surrogate: not encodable in UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_unstorable(data: Any) -> bool:
    """Whether any key or string anywhere in parsed JSON is `unstorable` (no recursion: the
    structure may be as deep as the parser allowed)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if unstorable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    check_text = True

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        if self.check_text and find_unstorable(data):
            raise InvalidText
        return data


class TextCheckedLater(JSONParser):
    """For views whose validator checks every text field it keeps (the shop's events)."""

    check_text = False
