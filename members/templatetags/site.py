"""`{{ path|absolute }}`: a path on this site as a full URL (SITE_URL), for emails."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def absolute(path: str) -> str:
    if not path or "://" in path:
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")
