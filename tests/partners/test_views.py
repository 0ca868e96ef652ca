"""The partner portal and the audit desk over HTTP: scoping (another company's objects are a
404), uploads refused beside their field with nothing left behind, the desk's decisions and
its permissions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from members.models import Member
from partners.models import Application, Document, Provider
from tests.factories import MemberFactory

from .conftest import (
    PDF,
    fully_certified,
    make_shop,
    open_application,
    owner_of,
    pdf_file,
    png_file,
    register,
    registered,
    stored_files,
)

pytestmark = pytest.mark.django_db


def client_for(member: Member) -> Client:
    client = Client()
    client.force_login(member)
    return client


REGISTER = {
    "legal_name": "Jade Operations Ltd",
    "registration_number": "91310000MA1FL0001X",
    "country": "cn",
    "address": "1 Bund Road",
    "contact_name": "Li Wei",
    "contact_email": "li@jade.example",
    "contact_phone": "+86 21 1",
    "payment_account_name": "Jade Operations Ltd",
    "payment_account_number": "6222",
    "payment_provider": "Alipay",
    "payment_account_kind": "corporate",
}


def test_registration_through_the_portal(documents_dir: Any) -> None:
    member = MemberFactory()
    client = client_for(member)
    assert client.get(reverse("partners:home")).status_code == 200
    response = client.post(
        reverse("partners:register"),
        {**REGISTER, "licence": pdf_file(), "identity": pdf_file(), "identity_second": png_file()},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = Provider.objects.get()
    assert provider.country == "CN"
    page = client.get(reverse("partners:home"))
    assert page.status_code == 200
    assert b'data-stage="registration" data-state="waiting"' in page.content


def test_a_personal_payment_account_is_refused_beside_the_field(documents_dir: Any) -> None:
    client = client_for(MemberFactory())
    response = client.post(
        reverse("partners:register"),
        {
            **REGISTER,
            "payment_account_kind": "personal",
            "licence": pdf_file(),
            "identity": pdf_file(),
            "identity_second": png_file(),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_payment_account_kind_error"' in html
    assert "A personal payment account cannot be bound" in html
    assert Provider.objects.count() == 0
    assert stored_files(documents_dir) == []


def test_a_document_of_the_wrong_type_is_refused_and_leaves_nothing(documents_dir: Any) -> None:
    client = client_for(MemberFactory())
    fake = pdf_file("licence.pdf", content=b"MZ\x90\x00 this is an executable, not a PDF")
    response = client.post(
        reverse("partners:register"),
        {**REGISTER, "licence": fake, "identity": pdf_file(), "identity_second": png_file()},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_licence_error"' in html
    assert "This file is not a PDF / PNG / JPEG / WebP file" in html
    assert Provider.objects.count() == 0 and Document.objects.count() == 0
    assert stored_files(documents_dir) == []


def test_a_pdf_as_the_selfie_is_refused(documents_dir: Any) -> None:
    client = client_for(MemberFactory())
    response = client.post(
        reverse("partners:register"),
        {**REGISTER, "licence": pdf_file(), "identity": pdf_file(), "identity_second": pdf_file()},
    )
    assert response.status_code == 400
    assert 'id="id_identity_second_error"' in response.content.decode()
    assert stored_files(documents_dir) == []


def test_a_document_over_the_size_limit_is_refused(documents_dir: Any) -> None:
    from partners.models import PartnerProgram

    PartnerProgram.load()
    PartnerProgram.objects.filter(pk=1).update(max_document_mb=1)
    client = client_for(MemberFactory())
    big = pdf_file("big.pdf", content=PDF + b"0" * (1024 * 1024))
    response = client.post(
        reverse("partners:register"),
        {**REGISTER, "licence": big, "identity": pdf_file(), "identity_second": png_file()},
    )
    assert response.status_code == 400
    assert "The file is larger than 1 MB." in response.content.decode()
    assert stored_files(documents_dir) == []


def test_a_partner_sees_nothing_of_another_partner(auditor: Member) -> None:
    ours = register()
    theirs = register(registration_number="OTHER-1", legal_name="Other Co")
    their_app = open_application(theirs, "registration")
    their_doc = Document.objects.filter(provider=theirs).first()
    our_doc = Document.objects.get(provider=ours, kind="business_licence")
    client = client_for(owner_of(ours))
    assert client.get(reverse("partners:application", args=[their_app.pk])).status_code == 404
    assert client.get(reverse("partners:document_file", args=[their_doc.pk])).status_code == 404
    response = client.post(
        reverse("partners:application", args=[their_app.pk]),
        {"action": "resubmit", "expected_version": their_app.version, "note": "x"},
    )
    assert response.status_code == 404
    own = client.get(reverse("partners:document_file", args=[our_doc.pk]))
    assert own.status_code == 200
    assert own["Content-Type"] == "application/pdf"
    assert own["Cache-Control"] == "private, no-store"
    assert b"".join(own.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    # lists show only the company's own objects
    listing = client.get(reverse("partners:applications")).content.decode()
    assert f"#{their_app.pk}<" not in listing
    assert f"#{open_application(ours, 'registration').pk}<" in listing
    # someone who is no partner gets a 404 too; the auditor sees it
    assert (
        client_for(MemberFactory())
        .get(reverse("partners:document_file", args=[our_doc.pk]))
        .status_code
        == 404
    )
    assert (
        client_for(auditor).get(reverse("partners:document_file", args=[their_doc.pk])).status_code
        == 200
    )


def test_documents_have_no_public_url(auditor: Member) -> None:
    provider = register()
    document = Document.objects.filter(provider=provider).first()
    with pytest.raises(ValueError, match="no public URL"):
        _url = document.file.url
    anonymous = Client().get(reverse("partners:document_file", args=[document.pk]))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_desk_is_for_auditors_only(auditor: Member) -> None:
    register()
    assert client_for(MemberFactory()).get(reverse("partners:desk")).status_code == 403
    assert client_for(MemberFactory(is_staff=True)).get(reverse("partners:desk")).status_code == 403
    assert client_for(auditor).get(reverse("partners:desk")).status_code == 200
    assert not auditor.is_superuser


def test_the_desk_decides_with_a_note_and_refuses_a_reject_without_one(auditor: Member) -> None:
    provider = register()
    application = open_application(provider, "registration")
    client = client_for(auditor)
    page = client.get(reverse("partners:desk_application", args=[application.pk]))
    assert page.status_code == 200
    url = reverse("partners:desk_decide", args=[application.pk])
    base = {"expected_status": application.status, "expected_version": application.version}
    refused = client.post(url, {**base, "decision": "reject", "note": ""})
    assert refused.status_code == 400
    assert 'id="id_note_error"' in refused.content.decode()
    assert Application.objects.get(pk=application.pk).status == "submitted"
    done = client.post(url, {**base, "decision": "request_changes", "note": "Add the branch"})
    assert done.status_code == 302
    assert Application.objects.get(pk=application.pk).status == "changes_requested"
    stale = client.post(url, {**base, "decision": "approve", "note": ""})
    assert stale.status_code == 400
    assert "This application has changed since you opened it" in stale.content.decode()
    # the applicant sees the note in the trail and resubmits
    owner = client_for(owner_of(provider))
    trail = owner.get(reverse("partners:trail")).content.decode()
    assert "Add the branch" in trail and "Changes requested" in trail
    roadmap = owner.get(reverse("partners:home")).content.decode()
    assert "Note from the auditor: Add the branch" in roadmap
    again = owner.post(
        reverse("partners:application", args=[application.pk]),
        {"action": "resubmit", "expected_version": application.version + 1, "note": "Added"},
    )
    assert again.status_code == 302
    assert Application.objects.get(pk=application.pk).status == "submitted"


def test_the_queue_puts_overdue_first_and_marks_them(auditor: Member) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() - timedelta(days=30), tick=False):
        late = register(registration_number="LATE-1")
    fresh = register(registration_number="FRESH-1")
    html = client_for(auditor).get(reverse("partners:desk")).content.decode()
    late_app = open_application(late, "registration")
    fresh_app = open_application(fresh, "registration")
    assert html.index(f"#{late_app.pk}<") < html.index(f"#{fresh_app.pk}<")
    assert html.count('class="overdue"') == 1
    filtered = client_for(auditor).get(reverse("partners:desk"), {"q": "FRESH"}).content.decode()
    assert f"#{fresh_app.pk}<" in filtered and f"#{late_app.pk}<" not in filtered


def test_operator_application_form_refuses_a_nickname_not_in_the_contract(
    auditor: Member, documents_dir: Any
) -> None:
    provider = registered(auditor)
    make_shop()
    before = stored_files(documents_dir)
    client = client_for(owner_of(provider))
    data = {
        "business_scope": "Operations",
        "team_size": "5",
        "website": "",
        "shops-TOTAL_FORMS": "1",
        "shops-INITIAL_FORMS": "0",
        "shops-MIN_NUM_FORMS": "1",
        "shops-MAX_NUM_FORMS": "5",
        "shops-0-nickname": "Blue Lotus Flagship",
        "shops-0-contract_nickname": "Red Lotus",
        "shops-0-contract": pdf_file(),
    }
    response = client.post(reverse("partners:apply_operator"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_shops-0-contract_nickname_error"' in html
    assert not Application.objects.filter(stage="operator").exists()
    assert stored_files(documents_dir) == before
    data["shops-0-contract_nickname"] = "blue lotus flagship"
    data["shops-0-contract"] = pdf_file()
    ok = client.post(reverse("partners:apply_operator"), data)
    assert ok.status_code == 302
    assert Application.objects.get(stage="operator").status == "submitted"


def test_every_partner_page_renders_for_a_certified_company(auditor: Member) -> None:
    provider = fully_certified(auditor)
    client = client_for(owner_of(provider))
    for name in (
        "home",
        "company",
        "identity",
        "applications",
        "documents",
        "deposit",
        "trail",
        "team",
    ):
        response = client.get(reverse(f"partners:{name}"))
        assert response.status_code == 200, name
    roadmap = client.get(reverse("partners:home")).content.decode()
    assert roadmap.count('data-state="done"') == 4
    desk = client_for(auditor)
    assert desk.get(reverse("partners:desk_provider", args=[provider.pk])).status_code == 200
    assert desk.get(reverse("partners:desk_providers")).status_code == 200


def test_apply_operator_is_shown_only_after_registration(auditor: Member) -> None:
    provider = register()
    client = client_for(owner_of(provider))
    html = client.get(reverse("partners:home")).content.decode()
    assert 'data-stage="operator" data-state="locked"' in html
    assert reverse("partners:apply_operator") not in html
    response = client.post(
        reverse("partners:apply_international"),
        {"markets": "EU", "languages": "en", "company_profile": "x"},
    )
    assert response.status_code == 400
    assert "Only a certified operator may apply" in response.content.decode()


def test_the_applicant_edits_a_sent_back_operator_application(
    auditor: Member, documents_dir: Any
) -> None:
    from partners import services

    from .conftest import apply_operator

    provider = registered(auditor)
    make_shop()
    application = apply_operator(provider, "Blue Lotus Flagship")
    services.application_decide(
        application_id=application.pk,
        expected_status="submitted",
        expected_version=application.version,
        decision="request_changes",
        note="Team size?",
        by_id=auditor.pk,
    )
    client = client_for(owner_of(provider))
    url = reverse("partners:application", args=[application.pk])
    page = client.get(url).content.decode()
    assert 'name="team_size"' in page and 'value="12"' in page
    wrong = client.post(
        url,
        {
            "action": "resubmit",
            "expected_version": application.version + 1,
            "business_scope": "Ops",
            "team_size": "40",
            "note": "Fixed",
            "document": pdf_file("x.pdf", content=b"not a pdf"),
            "document_kind": "contract",
        },
    )
    assert wrong.status_code == 400
    assert 'id="id_document_error"' in wrong.content.decode()
    assert Application.objects.get(pk=application.pk).status == "changes_requested"
    done = client.post(
        url,
        {
            "action": "resubmit",
            "expected_version": application.version + 1,
            "business_scope": "Ops",
            "team_size": "40",
            "note": "Fixed",
            "document": pdf_file(),
            "document_kind": "contract",
        },
    )
    assert done.status_code == 302
    application.refresh_from_db()
    assert application.status == "submitted"
    assert application.details["team_size"] == "40"
    assert application.documents.filter(kind="contract").count() == 2


def test_the_desk_provider_page_actions(auditor: Member) -> None:
    from decimal import Decimal

    from partners import selectors
    from partners.models import AuditEvent

    from .conftest import certified_operator

    provider = certified_operator(auditor)
    client = client_for(auditor)
    url = reverse("partners:desk_provider", args=[provider.pk])

    refused = client.post(
        url,
        {"action": "deposit", "kind": "deducted", "amount": "10", "reference": "", "reason": ""},
    )
    assert refused.status_code == 400
    assert 'id="id_reason_error"' in refused.content.decode()
    ok = client.post(
        url,
        {
            "action": "deposit",
            "kind": "deducted",
            "amount": "10",
            "reference": "",
            "reason": "Late delivery",
        },
    )
    assert ok.status_code == 302
    assert selectors.deposit_position(provider.pk).held == Decimal("99990.00")

    assert (
        client.post(
            url, {"action": "update", "deadline": "2030-01-31", "note": "New licence"}
        ).status_code
        == 302
    )
    provider.refresh_from_db()
    assert provider.update_deadline is not None and provider.update_note == "New licence"

    assert client.post(url, {"action": "message", "note": "Please call us"}).status_code == 302
    assert (
        client.post(url, {"action": "suspend", "reason": "Complaints", "until": ""}).status_code
        == 302
    )
    provider.refresh_from_db()
    assert (provider.standing, provider.suspended_until) == ("suspended", None)
    assert client.post(url, {"action": "reinstate", "note": "Resolved"}).status_code == 302
    assert client.post(url, {"action": "revoke", "reason": "Fraud"}).status_code == 302
    provider.refresh_from_db()
    assert provider.standing == "revoked"
    actions = list(
        AuditEvent.objects.filter(provider=provider, by_staff=True, actor=auditor).values_list(
            "action", flat=True
        )
    )
    for action in (
        "deposit_deducted",
        "update_requested",
        "message",
        "suspended",
        "reinstated",
        "revoked",
    ):
        assert action in actions
    # the partner sees the message and the revocation
    trail = client_for(owner_of(provider)).get(reverse("partners:trail")).content.decode()
    assert "Please call us" in trail and "Certification revoked; deposit return started" in trail
    # an ordinary staff member cannot act
    other = client_for(MemberFactory(is_staff=True))
    assert other.post(url, {"action": "revoke", "reason": "x"}).status_code == 403


def test_the_roadmap_says_by_which_day_staff_answer() -> None:
    from datetime import UTC, datetime

    import time_machine

    with time_machine.travel(datetime(2026, 12, 4, 15, 0, tzinfo=UTC), tick=False):
        provider = register()  # Friday: Mon, Tue, Wed
    html = client_for(owner_of(provider)).get(reverse("partners:home")).content.decode()
    assert "Staff will answer by the end of 2026-12-09 (UTC)." in html


def test_an_invited_colleague_joins_through_the_portal(
    documents_dir: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    provider = register()
    owner = client_for(owner_of(provider))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            reverse("partners:team"), {"email": "colleague@example.com", "role": "staff"}
        )
    assert response.status_code == 302
    link = next(line for line in mail.outbox[-1].body.split() if "/partners/invitations/" in line)
    colleague = MemberFactory(email="colleague@example.com")
    client = client_for(colleague)
    path = link.split("127.0.0.1:8000", 1)[1]
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert client.get(reverse("partners:home")).status_code == 200
    team = client.get(reverse("partners:team")).content.decode()
    assert "Invite a colleague" not in team  # staff do not invite
    refused = client.post(reverse("partners:team"), {"email": "x@example.com", "role": "staff"})
    assert refused.status_code == 400
    assert "You may not do this for this company." in refused.content.decode()


def test_the_desk_shows_a_change_request_beside_the_details_in_force(auditor: Member) -> None:
    from partners import services

    from .conftest import fully_certified

    provider = fully_certified(auditor)
    change = services.provider_details_update(
        member_id=owner_of(provider).pk,
        provider_id=provider.pk,
        values={"legal_name": "Jade Ops Group Ltd"},
    )
    assert change is not None
    html = (
        client_for(auditor)
        .get(reverse("partners:desk_application", args=[change.pk]))
        .content.decode()
    )
    assert "<td>Jade Operations Ltd</td><td><strong>Jade Ops Group Ltd</strong></td>" in html
    services.application_decide(
        application_id=change.pk,
        expected_status="submitted",
        expected_version=change.version,
        decision="request_changes",
        note="Send the amended licence",
        by_id=auditor.pk,
    )
    roadmap = client_for(owner_of(provider)).get(reverse("partners:company")).content.decode()
    assert f"#{change.pk}" in roadmap
