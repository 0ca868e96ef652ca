"""`{{ tier.name|label }}`: a preset name in the reader's language (members.labels).
A builtin (settings TEMPLATES), so no template needs to load it."""

from __future__ import annotations

from django import template

from members.labels import label as _label

register = template.Library()


@register.filter
def label(value: object) -> str:
    return _label(value)
