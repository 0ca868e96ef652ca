"""Partners, in headless Chromium (Debian's, through Playwright): a company registers, applies
as an operator, staff audit it on the desk, the deposit is recorded, it applies as an international
operator, uploads its presentation and reaches "certified". Screenshots at 375 and 1280 px
under test-artifacts/; axe-core on every partner and desk page; any refusal under the
Content-Security-Policy fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from members.models import Member
from partners.models import Application, Provider
from tests.factories import MemberFactory
from tests.partners.conftest import (  # noqa: F401 - documents_dir: a fixture, used by name
    PDF,
    PNG,
    documents_dir,
    fully_certified,
    make_auditor,
    make_shop,
)

from .conftest import ARTIFACTS, watch_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("documents_dir"),
]

AXE = "/static/vendor/axe-core/axe.min.js"
VIEWPORTS = [(375, 812), (1280, 800)]


def pdf(name: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF}


def png(name: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/png", "buffer": PNG}


def signed_in(browser: Any, base: str, member: Member, refused: list[str]) -> Any:
    client = Client()
    client.force_login(member)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused_here = watch_policy(page)
    page.on("close", lambda _p: refused.extend(refused_here))
    return page


def both_sizes(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"partners-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def desk_decides(
    desk: Any, base: str, application: Application, button: str, note: str = ""
) -> None:
    desk.goto(f"{base}/partners/desk/applications/{application.pk}/")
    if note:
        desk.get_by_label("Note to the applicant").fill(note)
    desk.get_by_role("button", name=button, exact=True).click()
    desk.wait_for_url(f"{base}/partners/desk/")


def test_a_company_reaches_certified(live_server: Any, browser: Any) -> None:
    auditor = make_auditor()
    base = live_server.url
    refused: list[str] = []
    make_shop("Blue Lotus Flagship")
    owner = MemberFactory(email="li.wei@jade.example")
    partner = signed_in(browser, base, owner, refused)
    desk = signed_in(browser, base, auditor, refused)

    # 1. registration
    partner.goto(base + "/partners/")
    partner.get_by_role("link", name="Register your company").click()
    for label, value in [
        ("Legal name", "Jade Operations Ltd"),
        ("Registration number", "91310000MA1FL0001X"),
        ("Country", "CN"),
        ("Address", "1 Bund Road, Shanghai"),
        ("Contact person", "Li Wei"),
        ("Contact email", "li.wei@jade.example"),
        ("Contact phone", "+86 21 5555 0101"),
        ("Payment account name", "Jade Operations Ltd"),
        ("Payment account number", "6222 0000 1111 2222"),
        ("Bank or payment provider", "Alipay"),
    ]:
        partner.get_by_label(label, exact=True).fill(value)
    partner.get_by_label("Payment account kind").select_option("personal")
    partner.get_by_label("Business licence").set_input_files(pdf("licence.pdf"))
    partner.get_by_label("Contact person's identity document").set_input_files(pdf("id.pdf"))
    partner.get_by_label("Selfie or second identity document").set_input_files(png("selfie.png"))
    partner.get_by_role("button", name="Register").click()
    assert (
        "A personal payment account cannot be bound"
        in partner.locator("#id_payment_account_kind_error").inner_text()
    )
    both_sizes(partner, "register-refused")
    partner.get_by_label("Payment account kind").select_option("corporate")
    partner.get_by_label("Business licence").set_input_files(pdf("licence.pdf"))
    partner.get_by_label("Contact person's identity document").set_input_files(pdf("id.pdf"))
    partner.get_by_label("Selfie or second identity document").set_input_files(png("selfie.png"))
    partner.get_by_role("button", name="Register").click()
    partner.wait_for_url(base + "/partners/")
    step = partner.locator('[data-stage="registration"]')
    assert step.get_attribute("data-state") == "waiting"
    assert "Staff will answer by the end of " in step.inner_text()
    both_sizes(partner, "roadmap-registered")

    # 2. staff verify the identity and approve the registration
    provider = Provider.objects.get()
    desk.goto(base + "/partners/desk/")
    assert "Jade Operations Ltd" in desk.get_by_test_id("queue").inner_text()
    both_sizes(desk, "desk-queue")
    desk.goto(f"{base}/partners/desk/providers/{provider.pk}/")
    desk.locator("select[name=verified]").select_option("1")
    desk.get_by_role("button", name="Record the check").click()
    registration = Application.objects.get(stage="registration")
    desk_decides(desk, base, registration, "Approve")

    # 3. operator application
    partner.goto(base + "/partners/")
    assert partner.locator('[data-stage="registration"]').get_attribute("data-state") == "done"
    partner.locator('[data-stage="operator"]').get_by_role("link", name="Apply").click()
    partner.get_by_label("Services you offer").fill("Store operations and campaigns")
    partner.get_by_label("People in your operations team").fill("12")
    partner.get_by_label("Shop nickname", exact=True).fill("Blue Lotus Flagship")
    partner.get_by_label("Shop nickname as written in the contract").fill("Blue Lotus Flagship")
    partner.get_by_label("Operating contract").set_input_files(pdf("contract.pdf"))
    partner.get_by_role("button", name="Submit the application").click()
    assert partner.get_by_test_id("status").inner_text() == "Awaiting audit"
    both_sizes(partner, "operator-submitted")
    operator = Application.objects.get(stage="operator")
    desk.goto(f"{base}/partners/desk/applications/{operator.pk}/")
    both_sizes(desk, "desk-application")
    desk_decides(desk, base, operator, "Approve", "Contract checked")

    # 4. the deposit: part, then the rest
    partner.goto(base + "/partners/")
    assert "Deposit due: 100000.00 CNY" in partner.locator('[data-stage="operator"]').inner_text()
    desk.goto(f"{base}/partners/desk/providers/{provider.pk}/")
    desk.get_by_label("Movement").select_option("received")
    desk.get_by_label("Amount").fill("100000.00")
    desk.get_by_label("Payment reference").fill("CMB-0042")
    desk.get_by_role("button", name="Record", exact=True).click()
    assert desk.get_by_test_id("deposit").inner_text() == "100000.00 of 100000.00 CNY held"
    partner.goto(base + "/partners/deposit/")
    assert partner.get_by_test_id("deposit-held").inner_text() == "100000.00 CNY"
    both_sizes(partner, "deposit")

    # 5. international: profile, then the presentation
    partner.goto(base + "/partners/")
    assert partner.locator('[data-stage="operator"]').get_attribute("data-state") == "done"
    partner.locator('[data-stage="international"]').get_by_role("link", name="Apply").click()
    partner.get_by_label("Markets you serve").fill("EU, UK")
    partner.get_by_label("Languages your team works in").fill("English, Chinese, German")
    partner.get_by_label("Company profile").fill("Operator of cross-border flagship stores.")
    partner.get_by_role("button", name="Submit the application").click()
    international = Application.objects.get(stage="international")
    desk_decides(desk, base, international, "Approve")
    partner.goto(f"{base}/partners/applications/{international.pk}/")
    partner.get_by_label("Company presentation").set_input_files(pdf("presentation.pdf"))
    partner.get_by_role("button", name="Upload").click()
    assert partner.get_by_test_id("status").inner_text() == "Presentation awaiting audit"
    desk_decides(desk, base, international, "Approve")

    # 6. certified
    partner.goto(base + "/partners/")
    states = [
        partner.locator(f'[data-stage="{s}"]').get_attribute("data-state")
        for s in ("registration", "operator", "international", "certified")
    ]
    assert states == ["done", "done", "done", "done"]
    assert "You may publish services." in partner.locator('[data-stage="certified"]').inner_text()
    both_sizes(partner, "roadmap-certified")
    partner.goto(base + "/partners/trail/")
    assert "Certification active" in partner.content()
    partner.context.close()
    desk.context.close()
    assert refused == [], "\n".join(refused)


def _axe(page: Any, base: str) -> list[str]:
    page.add_script_tag(url=base + AXE)
    result: list[str] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' @ ' +
                   v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
        }"""
    )
    return result


def test_every_partner_and_desk_page_passes_axe(live_server: Any, browser: Any) -> None:
    auditor = make_auditor()
    base = live_server.url
    provider = fully_certified(auditor)
    owner = provider.people.get(role="owner").member
    application = Application.objects.filter(provider=provider, stage="operator").get()
    newcomer = MemberFactory()
    pages = [
        (
            owner,
            [
                "/partners/",
                "/partners/company/",
                "/partners/identity/",
                "/partners/applications/",
                f"/partners/applications/{application.pk}/",
                "/partners/apply/operator/",
                "/partners/apply/international/",
                "/partners/documents/",
                "/partners/deposit/",
                "/partners/trail/",
                "/partners/team/",
            ],
        ),
        (newcomer, ["/partners/", "/partners/register/"]),
        (
            auditor,
            [
                "/partners/desk/",
                f"/partners/desk/applications/{application.pk}/",
                "/partners/desk/providers/",
                f"/partners/desk/providers/{provider.pk}/",
            ],
        ),
    ]
    failures: list[str] = []
    refused: list[str] = []
    for member, urls in pages:
        page = signed_in(browser, base, member, refused)
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            for url in urls:
                response = page.goto(base + url)
                assert response is not None and response.status == 200, url
                failures.extend(f"{width} {url}: {v}" for v in _axe(page, base))
        page.context.close()
    assert failures == [], "\n".join(failures)
    assert refused == [], "\n".join(refused)
