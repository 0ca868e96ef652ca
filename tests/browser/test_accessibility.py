"""axe-core (vendored in static/vendor/axe-core/, nothing downloads at test time) on every
member page at a phone and a desktop size: no serious or critical violations."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from loyalty.ledger.services import points_award
from loyalty.program.presets import loaders
from portal.models import Notice
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.factories import MemberFactory

from .conftest import watch_policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = "/static/vendor/axe-core/axe.min.js"  # by URL: the policy refuses an inline script
PAGES = [
    "/me/",
    "/me/inbox/",
    "/me/tier/",
    "/me/points/",
    "/me/coupons/",
    "/me/how-points-work/",
    "/me/profile/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
]
VIEWPORTS = [(375, 812), (1280, 800)]


def _member_with_history() -> Any:
    for load in loaders():
        load("aliexpress")
    member = MemberFactory(email="a11y@example.com")
    points_award(member_id=member.pk, points=5, reason="5 points for order SO-1")
    CouponFactory(member=member, template=CouponTemplateFactory(name="Birthday coupon"))
    Notice.objects.create(
        member=member,
        kind="points_expiring",
        key="lot:1",
        params={"points": 5, "on": "2026-12-01"},
        link="/me/points/",
    )
    return member


def test_member_pages_have_no_serious_axe_violations(live_server: Any, browser: Any) -> None:
    member = _member_with_history()
    client = Client()
    client.force_login(member)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    failures: list[str] = []
    refused: list[str] = []
    for width, height in VIEWPORTS:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        refused_here = watch_policy(page)
        try:
            for url in PAGES:
                response = page.goto(live_server.url + url)
                assert response is not None and response.status == 200, url
                assert page.url.startswith(live_server.url + url), page.url  # not sent to login
                page.add_script_tag(url=live_server.url + AXE)
                violations = page.evaluate(
                    """async () => {
                        const r = await axe.run(document, {resultTypes: ['violations']});
                        return r.violations
                          .filter(v => v.impact === 'serious' || v.impact === 'critical')
                          .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' @ ' +
                               v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
                    }"""
                )
                failures.extend(f"{width}x{height} {url}: {v}" for v in violations)
        finally:
            context.close()
        refused.extend(refused_here)
    assert not failures, "\n".join(failures)
    assert refused == [], "\n".join(refused)
