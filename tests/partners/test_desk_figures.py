"""The audit desk's SLA figures, its query budget and the auditors' permissions; the
document checksum; the hourly sweep that suspends providers past their update deadline."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import Member
from partners import selectors, services
from partners.models import Document, IdentityCheck, Provider
from partners.tasks import suspend_overdue

from .conftest import PDF, approve, fully_certified, open_application, owner_of, register

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_sla_figures_median_and_share_within_the_working_days(auditor: Member) -> None:
    # three registrations submitted on Monday 09:00 (due when Thursday ends), decided after
    # 2 h, 50 h and 5 days
    with time_machine.travel(MONDAY, tick=False):
        providers = [register(registration_number=f"SLA-{i}") for i in range(3)]
    for provider, hours in zip(providers, (2, 50, 120), strict=True):
        application = open_application(provider, "registration")
        with time_machine.travel(MONDAY + timedelta(hours=hours), tick=False):
            services.application_decide(
                application_id=application.pk,
                expected_status="submitted",
                expected_version=application.version,
                decision="reject",
                note="Incomplete",
                by_id=auditor.pk,
            )
    figures = selectors.sla_figures()
    assert figures.decisions == 3
    assert figures.median_hours == 50.0
    assert figures.within_share == pytest.approx(2 / 3)
    html = Client()
    html.force_login(auditor)
    page = html.get(reverse("partners:desk")).content.decode()
    assert "50.0 h" in page and "67%" in page


def test_no_decisions_no_figures() -> None:
    assert selectors.sla_figures() == selectors.SlaFigures(0, None, None)


def test_the_desk_queue_costs_the_same_however_long(
    auditor: Member, django_assert_max_num_queries: Any
) -> None:
    for i in range(3):
        register(registration_number=f"Q-{i}")
    client = Client()
    client.force_login(auditor)
    client.get(reverse("partners:desk"))  # warm the session and the permission cache
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("partners:desk")).status_code == 200
    for i in range(3, 12):
        register(registration_number=f"Q-{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("partners:desk")).status_code == 200


def test_the_roadmap_costs_the_same_at_every_stage(
    auditor: Member, django_assert_max_num_queries: Any
) -> None:
    provider = fully_certified(auditor)
    client = Client()
    client.force_login(owner_of(provider))
    with django_assert_max_num_queries(20):
        assert client.get(reverse("partners:home")).status_code == 200


def test_auditors_have_only_the_partner_permissions_they_need() -> None:
    group = Group.objects.get(name="Partner auditors")
    labels = set(group.permissions.values_list("content_type__app_label", flat=True))
    assert labels == {"partners"}
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert "audit_application" in codenames and "record_deposit" in codenames
    assert not any(c.startswith("delete_") and c != "delete_calendarday" for c in codenames)
    assert "change_provider" not in codenames and "change_depositentry" not in codenames


def test_every_document_is_checksummed() -> None:
    provider = register()
    licence = Document.objects.get(provider=provider, kind="business_licence")
    assert licence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert licence.size == len(PDF)
    with licence.file.open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == licence.sha256


def test_the_hourly_sweep_suspends_providers_past_their_deadline(auditor: Member) -> None:
    provider = fully_certified(auditor)
    services.provider_update_request(
        provider_id=provider.pk,
        deadline=timezone.now() - timedelta(minutes=1),
        note="New licence",
        by_id=auditor.pk,
    )
    assert suspend_overdue() == 1
    assert suspend_overdue() == 0
    assert Provider.objects.get(pk=provider.pk).standing == "suspended"


def test_approve_after_identity_verified_by_another_verifier(auditor: Member) -> None:
    """The identity interface: a decision without a staff member (a provider's webhook)."""
    provider = register()
    check = IdentityCheck.objects.get(provider=provider)
    services.identity_check_decide(check_id=check.pk, verified=True, note="provider ok", by_id=None)
    assert approve(open_application(provider, "registration"), auditor).status == "approved"
