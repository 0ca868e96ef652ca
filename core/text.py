"""How the program compares the texts its rules match: category names, for now.

A category is compared in one form, made once, where the text enters the program (a shop's
event, a campaign, brand or reward saved in the admin, a preset): Unicode NFKC (full-width
letters and digits become their usual forms, the ideographic space a plain space),
case-folded (so "Shoes", "SHOES" and "ｓｈｏｅｓ" are one category), runs of Unicode
whitespace (the no-break and ideographic spaces included) become one space, and the ends are
trimmed. Nothing else rewrites it, so two paths that compare categories cannot disagree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")


def normalize(value: str) -> str:
    """`value` in the form the program compares: NFKC, case-folded, whitespace collapsed
    and trimmed."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    # casefold can produce text that is not NFKC again (rare: e.g. some Greek letters)
    folded = unicodedata.normalize("NFKC", folded)
    return _SPACES.sub(" ", folded).strip()


def categories(values: Iterable[str]) -> list[str]:
    """Distinct normalised categories, sorted; empty ones dropped."""
    return sorted({n for n in (normalize(v) for v in values) if n})


def category_list(value: str) -> list[str]:
    """A comma-separated list as an admin types it ("Shoes,　Bags", full-width commas too)
    -> its categories, normalised, in the order given, without repeats."""
    seen: dict[str, None] = {}
    for part in unicodedata.normalize("NFKC", value).split(","):
        name = normalize(part)
        if name:
            seen.setdefault(name, None)
    return list(seen)


def category_text(value: str) -> str:
    """The stored form of a comma-separated list: its categories joined by ", "."""
    return ", ".join(category_list(value))
