"""Engagement's step of loading a preset: the showcase (which recommends the preset's rewards)
is dropped from the cache, so the dashboard shows them at once."""

from __future__ import annotations

from django.db import transaction

from benefits.engagement.showcase import showcase_invalidate


def load(name: str) -> list[str]:
    transaction.on_commit(showcase_invalidate)
    return []
