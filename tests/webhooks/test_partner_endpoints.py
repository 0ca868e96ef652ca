"""Endpoints owned by partner companies: a company's endpoint is sent its own partner events
(a real delivery to the local receiver, verified with `standardwebhooks`), never another
company's nor the member program's; an API key's endpoint never gets partner events; exactly
one owner (a check constraint); the services refuse types of the other kind of owner; the
partner events are recorded with the change they describe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from members.models import ApiKey, Member
from partners import services as partner_services
from partners.errors import PartnerError
from partners.models import Provider
from tests.factories import MemberFactory
from tests.partners.conftest import (  # noqa: F401 (documents_dir: an autouse fixture)
    documents_dir,
    make_auditor,
    owner_of,
    register,
    registered,
)
from webhooks.delivery import endpoint_send
from webhooks.models import EVENT_TYPES, PARTNER_EVENT_TYPES, WebhookEndpoint, WebhookMessage
from webhooks.services import (
    EventTypesRefused,
    endpoint_create,
    endpoint_disable,
    endpoint_replay,
)

from .support import Receiver, make_endpoint, record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_webhooks(settings: Any) -> None:
    """Every type goes to the webhooks' subscriber alone (the others would act on made-up
    members)."""
    settings.OUTBOX_SUBSCRIBERS = {
        t: ["webhooks.subscribers.enqueue"] for t in [*EVENT_TYPES, *PARTNER_EVENT_TYPES]
    }


def lotus(auditor: Member | None = None) -> Provider:
    values = {
        "legal_name": "Lotus Trading Ltd",
        "registration_number": "91310000MA1FL0002Y",
        "contact_email": "ops@lotus.example",
    }
    return registered(auditor, **values) if auditor else register(**values)


def company_endpoint(provider: Provider, receiver: Receiver, **kwargs: Any) -> WebhookEndpoint:
    endpoint, secret = endpoint_create(provider=provider, url=receiver.url, **kwargs)
    receiver.secret = secret
    return endpoint


def partner_events() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type__in=PARTNER_EVENT_TYPES).order_by("id"))


def test_a_company_endpoint_gets_its_own_certification_event_not_another_companys(
    make_receiver: Any, queued: list[Any]
) -> None:
    auditor = make_auditor()
    jade = register()
    other = lotus()
    mine, theirs = make_receiver(), make_receiver()
    endpoint = company_endpoint(jade, mine, event_types=["partner.certification.changed"])
    company_endpoint(other, theirs, event_types=["partner.certification.changed"])

    for provider in (jade, other):
        check = provider.identity_checks.get()
        partner_services.identity_check_decide(
            check_id=check.pk, verified=True, note="", by_id=auditor.pk
        )
    application = jade.applications.get(stage="registration")
    partner_services.application_decide(
        application_id=application.pk,
        expected_status=application.status,
        expected_version=application.version,
        decision="approve",
        note="",
        by_id=auditor.pk,
    )
    outbox.dispatch()

    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    (received,) = mine.received
    certification = jade.certifications.get()
    event = OutboxEvent.objects.get(type="partner.certification.changed")
    assert received.verified
    assert received.id == str(event.event_id)
    assert received.json["type"] == "partner.certification.changed"
    assert received.json["data"] == {
        "stage": "registration",
        "from": None,
        "to": "active",
        "provider": jade.pk,
        "application": application.pk,
        "certification": certification.pk,
    }
    assert theirs.received == []
    assert WebhookMessage.objects.filter(event=event).count() == 1


def test_the_partner_events_of_a_roadmap_in_order_and_with_their_subjects() -> None:
    auditor = make_auditor()
    jade = registered(auditor)
    application = jade.applications.get(stage="registration")
    certification = jade.certifications.get()
    assert [(e.type, e.data, e.subject, e.member_id) for e in partner_events()] == [
        (
            "partner.application.changed",
            {"stage": "registration", "from": None, "to": "submitted"},
            {"provider": jade.pk, "application": application.pk},
            None,
        ),
        (
            "partner.application.changed",
            {"stage": "registration", "from": "submitted", "to": "approved"},
            {"provider": jade.pk, "application": application.pk},
            None,
        ),
        (
            "partner.certification.changed",
            {"stage": "registration", "from": None, "to": "active"},
            {
                "provider": jade.pk,
                "application": application.pk,
                "certification": certification.pk,
            },
            None,
        ),
    ]


def test_standing_changes_are_events_and_a_refused_change_records_none() -> None:
    auditor = make_auditor()
    jade = register()
    OutboxEvent.objects.all().delete()
    with pytest.raises(PartnerError):
        partner_services.provider_suspend(
            provider_id=jade.pk, reason=" ", until=None, by_id=auditor.pk
        )
    assert partner_events() == []
    until = timezone.now() + timedelta(days=3)
    partner_services.provider_suspend(
        provider_id=jade.pk, reason="Complaints", until=until, by_id=auditor.pk
    )
    partner_services.provider_reinstate(provider_id=jade.pk, note="Resolved", by_id=auditor.pk)
    partner_services.provider_revoke(provider_id=jade.pk, reason="Fraud", by_id=auditor.pk)
    with pytest.raises(PartnerError):
        partner_services.provider_revoke(provider_id=jade.pk, reason="Again", by_id=auditor.pk)
    assert [(e.type, e.data, e.subject) for e in partner_events()] == [
        (
            "partner.standing.changed",
            {
                "from": "good",
                "to": "suspended",
                "reason": "Complaints",
                "suspended_until": DjangoJSONEncoder().default(until),
            },
            {"provider": jade.pk},
        ),
        (
            "partner.standing.changed",
            {"from": "suspended", "to": "good", "reason": "Resolved", "suspended_until": None},
            {"provider": jade.pk},
        ),
        (
            "partner.standing.changed",
            {"from": "good", "to": "revoked", "reason": "Fraud", "suspended_until": None},
            {"provider": jade.pk},
        ),
    ]


def test_an_api_key_endpoint_never_gets_partner_events_and_a_company_never_member_events(
    owner: ApiKey, make_receiver: Any, queued: list[Any]
) -> None:
    jade = register()  # a partner.application.changed event, not dispatched yet
    key_receiver, company_receiver = make_receiver(), make_receiver()
    everything = make_endpoint(owner, key_receiver)  # no types chosen: every type it may have
    company = company_endpoint(jade, company_receiver)
    tier = record("tier.changed")  # dispatches the registration's event too
    partner = OutboxEvent.objects.get(type="partner.application.changed")
    assert sorted(WebhookMessage.objects.values_list("endpoint_id", "event_id")) == sorted(
        [(everything.pk, tier.pk), (company.pk, partner.pk)]
    )
    endpoint_send(endpoint_id=everything.pk)
    endpoint_send(endpoint_id=company.pk)
    assert key_receiver.ids() == [str(tier.event_id)]
    assert company_receiver.ids() == [str(partner.event_id)]
    assert all(r.verified for r in [*key_receiver.received, *company_receiver.received])

    # a replay keeps to the same scope
    WebhookMessage.objects.all().delete()
    since = timezone.now() - timedelta(hours=1)
    assert endpoint_replay(endpoint_id=everything.pk, since=since) == 1
    assert endpoint_replay(endpoint_id=company.pk, since=since) == 1
    assert sorted(WebhookMessage.objects.values_list("endpoint_id", "event_id")) == sorted(
        [(everything.pk, tier.pk), (company.pk, partner.pk)]
    )


def test_a_replay_of_a_company_endpoint_leaves_out_other_companies_events(
    queued: list[Any],
) -> None:
    jade, other = register(), lotus()
    endpoint, _secret = endpoint_create(provider=jade, url="http://127.0.0.1:9/hook")
    assert endpoint_replay(endpoint_id=endpoint.pk, since=timezone.now() - timedelta(days=1)) == 1
    (message,) = WebhookMessage.objects.select_related("event")
    assert message.event.subject["provider"] == jade.pk
    assert OutboxEvent.objects.filter(subject__provider=other.pk).exists()


def test_exactly_one_owner_is_a_check_constraint(owner: ApiKey) -> None:
    jade = register()
    for owners in ({"owner": owner, "provider": jade}, {}):
        with pytest.raises(IntegrityError), transaction.atomic():
            WebhookEndpoint.objects.create(
                url="http://127.0.0.1:9/x", secret_encrypted="x", **owners
            )
    with pytest.raises(ValueError, match="exactly one owner"):
        endpoint_create(owner=owner, provider=jade, url="http://127.0.0.1:9/x")
    assert WebhookEndpoint.objects.count() == 0


def test_the_services_refuse_types_of_the_other_kind_of_owner(owner: ApiKey) -> None:
    jade = register()
    with pytest.raises(EventTypesRefused) as refused:
        endpoint_create(provider=jade, url="http://127.0.0.1:9/x", event_types=["tier.changed"])
    assert refused.value.refused == ["tier.changed"]
    with pytest.raises(EventTypesRefused):
        endpoint_create(
            owner=owner, url="http://127.0.0.1:9/x", event_types=["partner.standing.changed"]
        )
    assert WebhookEndpoint.objects.count() == 0
    assert set(EVENT_TYPES).isdisjoint(PARTNER_EVENT_TYPES)


def test_the_api_refuses_partner_types_for_an_integration(api_key: tuple[ApiKey, str]) -> None:
    client = Client()
    answer = client.post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:9/x", "event_types": ["partner.standing.changed"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
    )
    assert answer.status_code == 400
    assert "event_types" in answer.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_a_disabled_company_endpoint_emails_its_people_and_staff(
    django_capture_on_commit_callbacks: Any,
) -> None:
    jade = register()
    MemberFactory(email="staff@example.com", is_staff=True)
    MemberFactory(email="someone@example.com")
    endpoint, _secret = endpoint_create(provider=jade, url="http://127.0.0.1:9/hook")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_disable(endpoint_id=endpoint.pk, reason="410 Gone", notify=True)
    (sent,) = mail.outbox
    assert sorted(sent.to) == sorted([owner_of(jade).email, "staff@example.com"])
    assert "partner company Jade Operations Ltd" in sent.body
    assert "410 Gone" in sent.body and "partner portal" in sent.body


def test_the_admin_shows_the_owner_and_filters_by_its_kind(owner: ApiKey) -> None:
    jade = register()
    endpoint_create(owner=owner, url="http://127.0.0.1:9/key")
    endpoint_create(provider=jade, url="http://127.0.0.1:9/company")
    client = Client()
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    url = "/admin/webhooks/webhookendpoint/"
    partners_only = client.get(url, {"owner_kind": "partner"}).content.decode()
    assert "Partner company: Jade Operations Ltd" in partners_only
    assert "http://127.0.0.1:9/key" not in partners_only
    keys_only = client.get(url, {"owner_kind": "api_key"}).content.decode()
    assert "API key: " in keys_only and "http://127.0.0.1:9/company" not in keys_only
    refused = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "provider": jade.pk,
            "url": "https://hooks.example.com/in",
            "event_types": ["tier.changed"],
        },
    )
    assert refused.status_code == 200
    assert "Not for this kind of owner: tier.changed" in refused.content.decode()
    both = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"owner": owner.pk, "provider": jade.pk, "url": "https://hooks.example.com/in"},
    )
    assert "exactly one owner" in both.content.decode()
    assert WebhookEndpoint.objects.count() == 2
