"""Shared fixtures. Every test runs on PostgreSQL (DATABASE_URL, or the embedded server that
tests/embedded_db.py starts). Browser tests are skipped, with the reason printed, where
Chromium is missing; with CI=true any skipped test fails the run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from core import outbox
from members.models import ApiKey, Member
from members.services import api_key_create

from .factories import MemberFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    has_chromium = shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)
    for item in items:
        if "browser" in item.keywords and not has_chromium:
            item.add_marker(
                pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
            )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"CI=true: {len(skipped)} test(s) were skipped; CI must skip nothing.", red=True
        )
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Each test starts with an empty cache (rate limits, the cached program settings) and the
    default language (a request through the test client leaves its language active)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)

    from core.cache import forget
    from members.selectors import api_keys_forget

    cache.clear()
    forget()
    api_keys_forget()


@pytest.fixture(autouse=True)
def _outbox_dispatched_after_commit(request: pytest.FixtureRequest, monkeypatch: Any) -> None:
    """After a commit that records domain events, their subscribers run in this process, as a
    worker woken by the commit would run them (tests marked `outbox_wakes_celery` keep the real
    wake-up: a Celery task)."""
    if request.node.get_closest_marker("outbox_wakes_celery") is None:
        monkeypatch.setattr(outbox, "wake", outbox.dispatch)


@pytest.fixture
def member(db: Any) -> Member:
    return MemberFactory()


@pytest.fixture
def api_key(db: Any) -> tuple[ApiKey, str]:
    return api_key_create(name="checkout")


@pytest.fixture
def api_client(api_key: tuple[ApiKey, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    return client


@pytest.fixture
def member_client(member: Member) -> APIClient:
    client = APIClient()
    client.force_login(member)
    return client


@pytest.fixture
def make_member(db: Any) -> Callable[..., Member]:
    return MemberFactory
