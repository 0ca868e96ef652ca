"""Names that come from the program's data, in the reader's language.

Tiers, earning rules, benefits, coupon templates and rewards are rows the admin edits; the
presets that create them mark their names with `gettext_noop`, so the catalogue holds a
translation of each preset name. `label` shows a name in the active language when the
catalogue has it, and as typed otherwise (a name an administrator wrote or changed).
"""

from __future__ import annotations

from django.utils.translation import gettext


def label(value: object) -> str:
    text = "" if value is None else str(value)
    return gettext(text) if text else text  # gettext("") is the catalogue's header
