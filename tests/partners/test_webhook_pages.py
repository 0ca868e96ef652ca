"""The partner portal's webhook pages: a company's people manage its own endpoints (the secret
shown once), see every attempt, resend and replay; another company's endpoint is a 404 on
every page and action, and nothing of it changes; member-program types are refused beside the
field; the pages speak both languages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core import outbox
from members.models import Member
from partners.models import Provider, ProviderMember
from tests.factories import MemberFactory
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from webhooks.services import endpoint_create, endpoint_disable

from .conftest import owner_of, register

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"  # never called: the senders are not queued here


@pytest.fixture(autouse=True)
def _senders_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webhooks.services.task_queue", lambda *args: None)


def client_for(member: Member, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.cookies["django_language"] = language
    client.force_login(member)
    return client


def two_companies() -> tuple[Provider, Provider]:
    jade = register()
    lotus = register(
        legal_name="Lotus Trading Ltd",
        registration_number="91310000MA1FL0002Y",
        contact_email="ops@lotus.example",
    )
    return jade, lotus


def partner_endpoint(provider: Provider, **kwargs: Any) -> WebhookEndpoint:
    return endpoint_create(provider=provider, url=kwargs.pop("url", URL), **kwargs)[0]


def message_with_attempts(endpoint: WebhookEndpoint, attempts: int = 1) -> WebhookMessage:
    """A partner event of the endpoint's company, its message and `attempts` failed tries."""
    with transaction.atomic():
        event = outbox.emit(
            "partner.standing.changed",
            {"from": "good", "to": "suspended", "reason": "", "suspended_until": None},
            subject={"provider": endpoint.provider_id},
        )
    message = WebhookMessage.objects.create(endpoint=endpoint, event=event, attempts=attempts)
    for i in range(attempts):
        WebhookAttempt.objects.create(
            message=message,
            status_code=503,
            latency_ms=120 + i,
            response=f"busy, try later {i}",
            error="",
        )
    return message


def test_the_empty_state_says_what_to_do_next_and_the_nav_links_the_pages() -> None:
    jade = register()
    page = client_for(owner_of(jade)).get(reverse("partner_webhooks:endpoints"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="webhooks-empty"' in html
    assert "No endpoints yet. Add one" in html
    assert f'href="{reverse("partner_webhooks:new")}"' in html
    assert f'<a href="{reverse("partner_webhooks:endpoints")}" aria-current="page">' in html
    home = client_for(owner_of(jade)).get(reverse("partners:home")).content.decode()
    assert f'href="{reverse("partner_webhooks:endpoints")}"' in home


def test_a_person_of_the_company_adds_an_endpoint_and_sees_its_secret_once() -> None:
    jade = register()
    colleague = MemberFactory()
    ProviderMember.objects.create(provider=jade, member=colleague, role="staff")
    client = client_for(colleague)
    answer = client.post(
        reverse("partner_webhooks:new"),
        {
            "url": URL,
            "description": "ERP",
            "event_types": ["partner.certification.changed", "partner.standing.changed"],
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("partner_webhooks:secret", args=[endpoint.pk])
    assert (endpoint.provider_id, endpoint.owner_id, endpoint.url, endpoint.description) == (
        jade.pk,
        None,
        URL,
        "ERP",
    )
    assert endpoint.event_types == ["partner.certification.changed", "partner.standing.changed"]
    shown = client.get(answer["Location"])
    secret = shown.context["secret"]
    assert secret.startswith("whsec_")
    assert secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    again = client.get(answer["Location"]).content.decode()
    assert secret not in again
    assert "The secret was shown once" in again
    listed = client.get(reverse("partner_webhooks:endpoints")).content.decode()
    assert URL in listed and 'data-testid="webhooks-empty"' not in listed


def test_a_partner_cannot_register_member_program_types_the_error_is_beside_the_field() -> None:
    jade = register()
    client = client_for(owner_of(jade))
    answer = client.post(
        reverse("partner_webhooks:new"), {"url": URL, "event_types": ["tier.changed"]}
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert '<ul class="errorlist" id="id_event_types_error">' in html
    assert "tier.changed is not one of the available choices" in html
    assert "<legend>Event types</legend>" in html
    assert 'aria-describedby="id_event_types_error id_event_types_helptext"' in html
    assert WebhookEndpoint.objects.count() == 0
    missing = client.post(reverse("partner_webhooks:new"), {"url": "", "description": "x"})
    assert missing.status_code == 400
    assert '<ul class="errorlist" id="id_url_error">' in missing.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_a_partner_cannot_see_or_touch_another_companys_endpoint(
    django_capture_on_commit_callbacks: Any,
) -> None:
    jade, lotus = two_companies()
    theirs = partner_endpoint(lotus, description="Lotus ERP")
    message = message_with_attempts(theirs)
    before = WebhookEndpoint.objects.values().get(pk=theirs.pk)
    client = client_for(owner_of(jade))
    assert "Lotus ERP" not in client.get(reverse("partner_webhooks:endpoints")).content.decode()
    for name in ("endpoint", "secret", "edit", "delete"):
        assert client.get(reverse(f"partner_webhooks:{name}", args=[theirs.pk])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        for name, data in (
            ("edit", {"url": "http://127.0.0.1:9/mine"}),
            ("delete", {}),
            ("rotate", {}),
            ("disable", {}),
            ("enable", {}),
            ("replay", {"since": "2020-01-01T00:00"}),
        ):
            answer = client.post(reverse(f"partner_webhooks:{name}", args=[theirs.pk]), data)
            assert answer.status_code == 404, name
        resend = reverse("partner_webhooks:resend", args=[theirs.pk, message.pk])
        assert client.post(resend).status_code == 404
        # its message through one's own endpoint: still not found
        mine = partner_endpoint(jade)
        resend_via_mine = reverse("partner_webhooks:resend", args=[mine.pk, message.pk])
        assert client.post(resend_via_mine).status_code == 404
    assert WebhookEndpoint.objects.values().get(pk=theirs.pk) == before
    assert WebhookMessage.objects.filter(endpoint=theirs).count() == 1
    assert WebhookMessage.objects.values_list("attempts", flat=True).get(pk=message.pk) == 1


def test_someone_outside_any_company_is_sent_to_the_portals_start() -> None:
    jade = register()
    endpoint = partner_endpoint(jade)
    client = client_for(MemberFactory())
    for url in (
        reverse("partner_webhooks:endpoints"),
        reverse("partner_webhooks:endpoint", args=[endpoint.pk]),
    ):
        answer = client.get(url)
        assert (answer.status_code, answer["Location"]) == (302, reverse("partners:home"))
    assert Client().get(reverse("partner_webhooks:endpoints")).status_code == 302


def test_edit_rotate_disable_enable_and_delete_ones_own_endpoint() -> None:
    jade = register()
    endpoint = partner_endpoint(jade, event_types=["partner.standing.changed"])
    client = client_for(owner_of(jade))
    page = client.get(reverse("partner_webhooks:edit", args=[endpoint.pk]))
    assert page.status_code == 200 and URL in page.content.decode()
    saved = client.post(
        reverse("partner_webhooks:edit", args=[endpoint.pk]),
        {"url": "http://127.0.0.1:9/v2", "description": "v2", "event_types": []},
    )
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (
        "http://127.0.0.1:9/v2",
        "v2",
        [],
    )
    refused = client.post(
        reverse("partner_webhooks:edit", args=[endpoint.pk]),
        {"url": "http://127.0.0.1:9/v3", "event_types": ["coupon.issued"]},
    )
    assert refused.status_code == 400
    assert '<ul class="errorlist" id="id_event_types_error">' in refused.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/v2"

    old = endpoint.secret_encrypted
    rotated = client.post(reverse("partner_webhooks:rotate", args=[endpoint.pk]))
    assert rotated["Location"] == reverse("partner_webhooks:secret", args=[endpoint.pk])
    assert client.get(rotated["Location"]).context["secret"].startswith("whsec_")
    endpoint.refresh_from_db()
    assert endpoint.secret_encrypted != old and endpoint.previous_secret_encrypted == old
    assert client.get(reverse("partner_webhooks:rotate", args=[endpoint.pk])).status_code == 405

    client.post(reverse("partner_webhooks:disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "Disabled by your company.")
    client.post(reverse("partner_webhooks:enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.disabled_reason) == (True, "")

    confirm = client.get(reverse("partner_webhooks:delete", args=[endpoint.pk]))
    assert confirm.status_code == 200 and "http://127.0.0.1:9/v2" in confirm.content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    gone = client.post(reverse("partner_webhooks:delete", args=[endpoint.pk]))
    assert gone["Location"] == reverse("partner_webhooks:endpoints")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_messages_with_their_attempts_paginated_in_a_constant_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    jade = register()
    endpoint = partner_endpoint(jade)
    client = client_for(owner_of(jade))
    url = reverse("partner_webhooks:endpoint", args=[endpoint.pk])
    first = message_with_attempts(endpoint, attempts=2)
    client.get(url)  # warm (sessions, the program settings)
    with django_assert_max_num_queries(20) as few:
        page = client.get(url)
    html = page.content.decode()
    assert f'data-message="{first.pk}"' in html
    assert "busy, try later 0" in html and "busy, try later 1" in html
    assert "<td>503</td><td>121</td>" in html and "<td>503</td><td>120</td>" in html
    for _i in range(20):
        message_with_attempts(endpoint, attempts=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.content.decode().count("data-message=") == 20
    older = client.get(url, {"page": 2}).content.decode()
    assert older.count("data-message=") == 1 and f'data-message="{first.pk}"' in older


def test_resend_one_message_and_replay_since_a_moment() -> None:
    jade, lotus = two_companies()
    endpoint = partner_endpoint(jade)
    client = client_for(owner_of(jade))
    message = message_with_attempts(endpoint, attempts=2)
    WebhookMessage.objects.filter(pk=message.pk).update(status="failed")
    answer = client.post(reverse("partner_webhooks:resend", args=[endpoint.pk, message.pk]))
    assert answer.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 0)

    WebhookMessage.objects.all().delete()
    with transaction.atomic():
        for provider in (jade, lotus):
            outbox.emit(
                "partner.standing.changed",
                {"from": "good", "to": "suspended"},
                subject={"provider": provider.pk},
            )
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    replayed = client.post(reverse("partner_webhooks:replay", args=[endpoint.pk]), {"since": since})
    assert replayed.status_code == 302
    # the company's own events only (its registration's, the standing above, the message's)
    subjects = {
        m.event.subject["provider"]
        for m in WebhookMessage.objects.filter(endpoint=endpoint).select_related("event")
    }
    assert subjects == {jade.pk}
    assert WebhookMessage.objects.filter(endpoint=endpoint).count() >= 2


def test_the_replay_form_shows_its_error_beside_the_field() -> None:
    jade = register()
    endpoint = partner_endpoint(jade)
    client = client_for(owner_of(jade))
    url = reverse("partner_webhooks:replay", args=[endpoint.pk])
    for since, error in (
        ("", "This field is required."),
        ("yesterday", "Enter a valid date/time."),
        ((timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "in the past"),
    ):
        answer = client.post(url, {"since": since})
        html = answer.content.decode()
        assert answer.status_code == 400
        assert '<ul class="errorlist" id="id_since_error">' in html
        assert error in html
        assert 'aria-invalid="true"' in html
    assert WebhookMessage.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["Webhooks", "Add an endpoint", "Send again every event since"]),
        ("zh-hans", ["Webhook 端点", "添加端点", "重新发送此时间之后的所有事件", "事件类型"]),
    ],
)
def test_the_pages_in_both_languages(language: str, texts: list[str]) -> None:
    jade = register()
    endpoint = partner_endpoint(jade)
    message_with_attempts(endpoint)
    client = client_for(owner_of(jade), language)
    html = "".join(
        client.get(reverse(f"partner_webhooks:{name}", args=args)).content.decode()
        for name, args in (
            ("endpoints", []),
            ("new", []),
            ("endpoint", [endpoint.pk]),
            ("edit", [endpoint.pk]),
            ("delete", [endpoint.pk]),
            ("secret", [endpoint.pk]),
        )
    )
    for text in texts:
        assert text in html, text


def test_a_disabled_endpoint_is_shown_with_why() -> None:
    jade = register()
    endpoint = partner_endpoint(jade)
    endpoint_disable(endpoint_id=endpoint.pk, reason="410 Gone")
    html = client_for(owner_of(jade)).get(reverse("partner_webhooks:endpoints")).content.decode()
    assert "Disabled: 410 Gone" in html
