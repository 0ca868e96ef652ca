"""A refusal with a stable code (for the API and the tests) and, where it belongs to one, the
form field it is shown beside."""

from __future__ import annotations

from typing import Any


class PartnerError(Exception):
    def __init__(self, code: str, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field
