"""Email subjects are plain text: rendered without HTML escaping, on one line.

A subject rendered like a page shows `H&amp;M &quot;VIP&quot;` for `H&M "VIP"`: the mail
header is not HTML. Every email's subject goes through `email_subject` (the allauth adapter's
too); bodies are plain-text templates that already turn autoescaping off."""

from __future__ import annotations

from typing import Any

from django.template import Context
from django.template.loader import get_template


def email_subject(template_name: str, context: dict[str, Any]) -> str:
    """The subject template `template_name` rendered as plain text, whitespace collapsed."""
    template = get_template(template_name).template  # type: ignore[attr-defined]
    text = template.render(Context(context, autoescape=False))
    return " ".join(str(text).split())
