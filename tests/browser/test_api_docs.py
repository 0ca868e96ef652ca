"""The API docs page draws Swagger UI under its policy (a static start script, no inline
script): the operations and the webhooks are listed and the browser refuses nothing."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_draw_under_their_policy(live_server: Any, page: Any) -> None:
    response = page.goto(live_server.url + "/api/docs/")
    assert response is not None and response.status == 200
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.locator(".opblock-tag", has_text="coupons").first.wait_for()
    assert page.locator(".opblock").count() > 10
    # the webhooks' payloads (OpenAPI 3.1 `webhooks`), one per event type
    page.locator(".opblock", has_text="tier.changed").first.wait_for()
