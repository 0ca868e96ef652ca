"""Point reasons in the reader's language.

An entry stores its reason as text, in the language of whoever wrote it: the shop's API and
the jobs write English, the member center writes the member's language (the visit point).
That text is the audit record and never changes. For display, `localize` reads a stored
reason against the reason templates the ledger writes (in every configured language), and
renders it again in the active language, its parts (an order's "what", a cap's label)
translated the same way. A reason that matches no template (a staff adjustment's free text,
a rule renamed in the admin) is shown as stored.

Every template here is the exact msgid the writers use (`loyalty.earning`,
`loyalty.services`, `benefits.rewards`); tests/loyalty/ledger/test_reasons.py renders each
writer's reason in Chinese and fails when one is missing.
"""

from __future__ import annotations

import re
from functools import cache

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

TEMPLATES = (
    # the earning planner's reasons (loyalty.earning.planner) and the "what" they are given
    gettext_noop("1 point for %(what)s"),
    gettext_noop("%(points)d points for %(what)s"),
    gettext_noop("%(cap)s reached: 0 points"),
    gettext_noop("%(points)d points for %(what)s (%(cap)s reached)"),
    gettext_noop("order %(number)s"),
    gettext_noop("a review of product %(product)s"),
    gettext_noop("club post %(post)s"),
    gettext_noop("your visit on %(day)s"),
    gettext_noop("%(n)d more categories on %(day)s (order %(number)s)"),
    # EarningRule.cap_label
    gettext_noop("daily %(subject)s cap of %(cap)d"),
    gettext_noop("monthly %(subject)s cap of %(cap)d"),
    # other earnings and reversals
    gettext_noop("order %(number)s is below the minimum of %(min)s %(currency)s: 0 points"),
    gettext_noop("%(points)d bonus points: %(campaign)s (order %(order)s)"),
    gettext_noop("order %(number)s returned (%(amount)s of %(total)s %(currency)s)"),
    gettext_noop("order %(number)s flagged as fraud"),
    # spending and expiry
    gettext_noop("points spent"),
    gettext_noop("%(points)d points earned %(earned)s expired on %(on)s"),
    gettext_noop("%(points)d of the reversed points had already expired: not taken again"),
    gettext_noop("Exchanged for %(reward)s"),
    gettext_noop("Exchanged for %(points)d points"),
)

# The preset rules' cap subjects (a cap group, or a rule's name in lower case).
SUBJECTS = (
    gettext_noop("shopping"),
    gettext_noop("category bonus"),
    gettext_noop("fan"),
    gettext_noop("review"),
    gettext_noop("club post"),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def _pattern(text: str) -> re.Pattern[str]:
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[last : match.start()]))
        name, kind = match.groups()
        parts.append(rf"(?P<{name}>-?\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
        last = match.end()
    parts.append(re.escape(text[last:]))
    return re.compile("".join(parts), re.DOTALL)


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(template, pattern) for every template in every language, most specific first (the
    most literal text), so that "5 points for X (cap reached)" is not read as "5 points for
    X"."""
    found: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for template in TEMPLATES:
                found.setdefault(gettext(template), template)
    ranked = sorted(found.items(), key=lambda item: -len(_PLACEHOLDER.sub("", item[0])))
    return tuple((template, _pattern(text)) for text, template in ranked)


@cache
def _subjects() -> dict[str, str]:
    known: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for subject in SUBJECTS:
                known.setdefault(gettext(subject), subject)
    return known


def localize(reason: str) -> str:
    """`reason` in the active language (as stored when no template matches)."""
    return _render(reason, depth=0)


def _render(text: str, *, depth: int) -> str:
    if depth > 3:
        return text
    for template, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        params: dict[str, object] = {}
        for name, value in match.groupdict().items():
            if f"%({name})d" in template:
                params[name] = int(value)
            else:
                params[name] = _render(value, depth=depth + 1)
        return gettext(template) % params
    subject = _subjects().get(text)
    return gettext(subject) if subject is not None else text
