"""Texts that staff write with named placeholders, filled in for members: `{percent}% off`.

Never `str.format` on staff text (`{percent.__class__}` reads attributes, `{percent[0]}`
indexes, both fail or leak at render time). A `{name}` is replaced by its value and nothing
else is interpreted: `{{` is a literal `{`; any other `{` is a mistake. `PlaceholderValidator`
refuses unknown names and stray braces when the text is saved, beside its field; `fill` never
fails on a text saved before the validator existed (what it cannot read stays as written).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import cast

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _


class _BraceTemplate(string.Template):
    delimiter = "{"
    pattern = r"""
    \{(?:
      (?P<escaped>\{)                    # {{ is a literal brace
      | (?P<named>[a-z][a-z0-9_]*)\}     # {name}
      | (?P<braced>(?!))                 # (no second form)
      | (?P<invalid>)                    # anything else after a {
    )
    """  # type: ignore[assignment]


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with every `{name}` of `values` replaced; anything else left as written."""
    return _BraceTemplate(text).safe_substitute(values)


def placeholder_problems(text: str, allowed: Iterable[str]) -> list[str]:
    """What is wrong with the placeholders of `text` (empty: nothing)."""
    names = set(allowed)
    problems: list[str] = []
    for match in cast("re.Pattern[str]", _BraceTemplate.pattern).finditer(text):
        name = match.group("named")
        if match.group("invalid") is not None:
            problems.append(
                str(
                    _("A “{” must start a placeholder such as {%(example)s}; write {{ for a brace.")
                )
                % {"example": sorted(names)[0] if names else "name"}
            )
        elif name is not None and name not in names:
            problems.append(
                str(_("Unknown placeholder {%(name)s}: use %(allowed)s."))
                % {"name": name, "allowed": ", ".join(f"{{{n}}}" for n in sorted(names))}
            )
    return list(dict.fromkeys(problems))


@deconstructible
class PlaceholderValidator:
    """Refuses a text with unknown placeholders or a stray `{` (a model field's validator)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(names))

    def __call__(self, value: str) -> None:
        problems = placeholder_problems(value or "", self.names)
        if problems:
            raise ValidationError(problems, code="placeholder")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlaceholderValidator) and other.names == self.names

    def __hash__(self) -> int:
        return hash(self.names)
