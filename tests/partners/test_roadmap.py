"""Every transition of the roadmap and every refusal, through the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from members.models import Member
from partners import selectors, services
from partners.errors import PartnerError
from partners.models import (
    Application,
    AuditEvent,
    Certification,
    DepositEntry,
    Document,
    IdentityCheck,
    PartnerProgram,
    Provider,
    ProviderMember,
    ShopOperation,
)
from tests.factories import MemberFactory

from .conftest import (
    apply_operator,
    approve,
    certified_operator,
    checked_pdf,
    checked_png,
    fully_certified,
    make_shop,
    open_application,
    owner_of,
    register,
    registered,
    stored_files,
)

pytestmark = pytest.mark.django_db

S = Application.Status


def decide(application: Application, auditor: Member, decision: str, note: str = "") -> Application:
    return services.application_decide(
        application_id=application.pk,
        expected_status=application.status,
        expected_version=application.version,
        decision=decision,
        note=note,
        by_id=auditor.pk,
    )


# --- registration -------------------------------------------------------------------------
def test_registration_creates_the_company_its_owner_documents_and_an_audit(
    documents_dir: Any,
) -> None:
    member = MemberFactory()
    provider = register(member)
    assert provider.legal_name == "Jade Operations Ltd"
    assert provider.registration_number == "91310000MA1FL0001X"
    assert ProviderMember.objects.get(provider=provider).member == member
    application = open_application(provider, "registration")
    assert application.status == S.SUBMITTED and application.due_at is not None
    assert sorted(Document.objects.filter(provider=provider).values_list("kind", flat=True)) == [
        "business_licence",
        "identity",
        "identity_second",
    ]
    assert len(stored_files(documents_dir)) == 3
    assert IdentityCheck.objects.get(provider=provider).status == "pending"
    assert list(AuditEvent.objects.filter(provider=provider).values_list("action", flat=True)) == [
        "submitted",
        "registered",
    ]


def test_a_personal_payment_account_is_refused_beside_its_field(documents_dir: Any) -> None:
    with pytest.raises(PartnerError) as refused:
        register(payment_account_kind="personal")
    assert refused.value.code == "personal_payment_account"
    assert refused.value.field == "payment_account_kind"
    assert Provider.objects.count() == 0 and Document.objects.count() == 0
    assert stored_files(documents_dir) == []


def test_the_database_refuses_a_personal_payment_account_too() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(
            legal_name="X",
            registration_number="1",
            country="CN",
            address="a",
            contact_name="c",
            contact_email="c@example.com",
            contact_phone="1",
            payment_account_name="p",
            payment_account_number="1",
            payment_provider="b",
            payment_account_kind="personal",
        )


def test_a_registration_number_is_unique_per_country() -> None:
    register()
    with pytest.raises(PartnerError) as refused:
        register(registration_number=" 91310000ma1fl0001x ")
    assert refused.value.code == "registration_number_taken"
    assert refused.value.field == "registration_number"
    other = register(country="HK")
    assert other.registration_number == "91310000MA1FL0001X"
    assert Provider.objects.count() == 2


def test_registration_is_approved_only_after_the_identity_is_verified(auditor: Member) -> None:
    provider = register()
    application = open_application(provider, "registration")
    with pytest.raises(PartnerError) as refused:
        approve(application, auditor)
    assert refused.value.code == "identity_not_verified"
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    check = IdentityCheck.objects.get(provider=provider)
    services.identity_check_decide(check_id=check.pk, verified=True, note="", by_id=auditor.pk)
    approved = approve(Application.objects.get(pk=application.pk), auditor)
    assert approved.status == S.APPROVED
    assert selectors.certified(provider.pk, "registration")


def test_a_failed_identity_check_needs_a_reason_and_new_documents(auditor: Member) -> None:
    provider = register()
    check = IdentityCheck.objects.get(provider=provider)
    with pytest.raises(PartnerError) as refused:
        services.identity_check_decide(
            check_id=check.pk, verified=False, note=" ", by_id=auditor.pk
        )
    assert refused.value.code == "reason_required"
    services.identity_check_decide(
        check_id=check.pk, verified=False, note="Blurred", by_id=auditor.pk
    )
    renewed = services.identity_check_renew(
        member_id=owner_of(provider).pk,
        provider_id=provider.pk,
        identity=checked_pdf("identity"),
        identity_second=checked_png(),
    )
    assert renewed.status == "pending"
    assert IdentityCheck.objects.filter(provider=provider).count() == 2


# --- decisions ----------------------------------------------------------------------------
def test_reject_needs_a_reason_shown_to_the_applicant(
    auditor: Member, django_capture_on_commit_callbacks: Any
) -> None:
    provider = register()
    application = open_application(provider, "registration")
    with pytest.raises(PartnerError) as refused:
        decide(application, auditor, "reject", "")
    assert refused.value.code == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        rejected = decide(application, auditor, "reject", "The licence has expired")
    assert rejected.status == S.REJECTED and rejected.decision_note == "The licence has expired"
    event = AuditEvent.objects.get(application=application, action="rejected")
    assert (event.actor, event.from_status, event.to_status, event.note) == (
        auditor,
        "submitted",
        "rejected",
        "The licence has expired",
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner_of(provider).email]
    assert "The licence has expired" in mail.outbox[0].body


def test_the_decision_email_is_in_the_applicants_language(
    auditor: Member, django_capture_on_commit_callbacks: Any
) -> None:
    member = MemberFactory(language="zh-hans")
    provider = register(member)
    with django_capture_on_commit_callbacks(execute=True):
        decide(open_application(provider, "registration"), auditor, "reject", "执照过期")
    assert mail.outbox[0].subject == "服务商入驻：已驳回"
    assert "执照过期" in mail.outbox[0].body and "审核员说明" in mail.outbox[0].body


def test_request_changes_then_resubmit_restarts_the_clock(auditor: Member) -> None:
    provider = register()
    application = open_application(provider, "registration")
    first_due = application.due_at
    sent_back = decide(application, auditor, "request_changes", "Add the branch address")
    assert sent_back.status == S.CHANGES_REQUESTED and sent_back.due_at is None
    later = timezone.now() + timedelta(days=7)
    import time_machine

    with time_machine.travel(later, tick=False):
        again = services.application_resubmit(
            member_id=owner_of(provider).pk,
            application_id=application.pk,
            expected_version=sent_back.version,
            details={"note": "Branch: 2 Bund Road"},
        )
    assert again.status == S.SUBMITTED
    assert again.submitted_at == later
    assert again.due_at is not None and first_due is not None and again.due_at > first_due
    assert AuditEvent.objects.filter(application=application, action="resubmitted").count() == 1


def test_a_decision_from_a_stale_view_is_refused(auditor: Member) -> None:
    provider = register()
    application = open_application(provider, "registration")
    decide(application, auditor, "request_changes", "More")
    with pytest.raises(PartnerError) as refused:
        decide(application, auditor, "reject", "No")  # still thinks it is "submitted"
    assert refused.value.code == "stale_application"
    assert Application.objects.get(pk=application.pk).status == S.CHANGES_REQUESTED


# --- operator -----------------------------------------------------------------------------
def test_operator_application_before_registration_is_refused() -> None:
    provider = register()
    make_shop()
    with pytest.raises(PartnerError) as refused:
        apply_operator(provider, "Blue Lotus Flagship")
    assert refused.value.code == "registration_required"
    assert not Application.objects.filter(stage="operator").exists()


def test_a_nickname_not_matching_the_contract_is_refused_and_stores_nothing(
    auditor: Member, documents_dir: Any
) -> None:
    provider = registered(auditor)
    make_shop()
    before = stored_files(documents_dir)
    with pytest.raises(PartnerError) as refused:
        apply_operator(provider, "Blue Lotus Flagship", contract_nickname="Blue Lotus Outlet")
    assert refused.value.code == "nickname_mismatch"
    assert refused.value.field == "shops-0-contract_nickname"
    assert not Application.objects.filter(stage="operator").exists()
    assert stored_files(documents_dir) == before


def test_the_nickname_compares_in_one_form() -> None:
    from core.text import normalize

    assert normalize("ＢＬＵＥ  Lotus　Flagship ") == normalize("blue lotus flagship")


def test_a_shop_owned_by_the_operator_itself_is_refused(auditor: Member) -> None:
    provider = registered(auditor)
    make_shop(owner_company="JADE OPERATIONS LTD", owner_registration_number="")
    with pytest.raises(PartnerError) as refused:
        apply_operator(provider, "Blue Lotus Flagship")
    assert refused.value.code == "shop_owned_by_operator"


@pytest.mark.parametrize(
    ("shop_values", "failure"),
    [
        ({"active": False}, "shop_inactive"),
        ({"open_violations": 1}, "shop_open_violation"),
        ({"opened_on_days_ago": 30}, "shop_too_new"),
        (None, "shop_unknown"),
    ],
)
def test_an_unqualified_store_application_is_closed_and_must_be_made_anew(
    auditor: Member, shop_values: dict[str, Any] | None, failure: str
) -> None:
    from core.clock import program_today

    provider = registered(auditor)
    if shop_values is not None:
        values = dict(shop_values)
        if "opened_on_days_ago" in values:
            values["opened_on"] = program_today() - timedelta(days=values.pop("opened_on_days_ago"))
        make_shop(**values)
    application = apply_operator(provider, "Blue Lotus Flagship")
    assert application.status == S.UNQUALIFIED
    assert application.due_at is None
    assert application.assessment == [{"nickname": "Blue Lotus Flagship", "failures": [failure]}]
    assert AuditEvent.objects.filter(application=application, action="unqualified").exists()
    # not editable: resubmitting the refused application is refused
    with pytest.raises(PartnerError) as refused:
        services.application_resubmit(
            member_id=owner_of(provider).pk,
            application_id=application.pk,
            expected_version=application.version,
            details={},
        )
    assert refused.value.code == "stale_application"
    # a new application may be made
    make_shop("Green Tea House")
    assert apply_operator(provider, "Green Tea House").status == S.SUBMITTED


def test_the_trading_days_rule_is_a_setting(auditor: Member) -> None:
    from core.clock import program_today

    provider = registered(auditor)
    make_shop(opened_on=program_today() - timedelta(days=30))
    PartnerProgram.objects.filter(pk=1).update(min_trading_days=30)
    assert apply_operator(provider, "Blue Lotus Flagship").status == S.SUBMITTED


def test_a_shop_run_by_another_certified_operator_fails_the_assessment(auditor: Member) -> None:
    certified_operator(auditor)
    other = registered(auditor, registration_number="OTHER-2", legal_name="Other Ops")
    application = apply_operator(other, "Blue Lotus Flagship")
    assert application.assessment[0]["failures"] == ["shop_operated_by_another"]


def test_one_open_application_per_provider_and_stage(auditor: Member) -> None:
    provider = registered(auditor)
    make_shop()
    apply_operator(provider, "Blue Lotus Flagship")
    with pytest.raises(PartnerError) as refused:
        apply_operator(provider, "Blue Lotus Flagship")
    assert refused.value.code == "application_open"
    # the database holds the rule too
    application = Application.objects.get(provider=provider, stage="operator")
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(
            provider=provider,
            stage="operator",
            status=S.SUBMITTED,
            created_by=application.created_by,
        )


def test_operator_approval_requires_the_full_deposit_before_the_certification_is_active(
    auditor: Member,
) -> None:
    provider = registered(auditor)
    make_shop()
    approve(apply_operator(provider, "Blue Lotus Flagship"), auditor)
    certification = Certification.objects.get(provider=provider, stage="operator")
    assert certification.status == "deposit_due"
    position = selectors.deposit_position(provider.pk)
    assert (position.required, position.held, position.currency) == (
        Decimal("100000.00"),
        Decimal("0.00"),
        "CNY",
    )
    services.deposit_record(
        provider_id=provider.pk,
        kind="received",
        amount=Decimal("60000"),
        reference="R-1",
        by_id=auditor.pk,
    )
    with pytest.raises(PartnerError) as refused:
        services.certification_activate(provider_id=provider.pk)
    assert refused.value.code == "deposit_not_covered"
    assert Certification.objects.get(pk=certification.pk).status == "deposit_due"
    assert not ShopOperation.objects.filter(provider=provider).exists()
    services.deposit_record(
        provider_id=provider.pk,
        kind="received",
        amount=Decimal("40000.00"),
        reference="R-2",
        by_id=auditor.pk,
    )
    assert Certification.objects.get(pk=certification.pk).status == "active"
    assert ShopOperation.objects.filter(provider=provider, ended_at=None).count() == 1
    assert selectors.deposit_position(provider.pk).due == Decimal("0.00")


# --- deposit ledger -----------------------------------------------------------------------
def test_the_deposit_ledger_is_append_only_and_its_balance_is_its_sum(auditor: Member) -> None:
    provider = certified_operator(auditor)
    services.deposit_record(
        provider_id=provider.pk,
        kind="deducted",
        amount=Decimal("2500.50"),
        reason="Late shipping violation",
        by_id=auditor.pk,
    )
    assert selectors.deposit_position(provider.pk).held == Decimal("97499.50")
    statement = selectors.deposit_statement(provider.pk)
    assert [(e.kind, held) for e, held in statement] == [
        ("required", Decimal("0.00")),
        ("received", Decimal("100000.00")),
        ("deducted", Decimal("97499.50")),
    ]
    entry = DepositEntry.objects.filter(provider=provider).first()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        DepositEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1"))
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        DepositEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(provider=provider).update(note="rewritten")


def test_the_database_refuses_a_negative_deposit_held_and_a_second_currency(
    auditor: Member,
) -> None:
    provider = certified_operator(auditor)
    with pytest.raises(Exception, match="negative"), transaction.atomic():
        DepositEntry.objects.create(
            provider=provider, kind="refunded", amount=Decimal("100000.01"), currency="CNY"
        )
    with pytest.raises(Exception, match="one currency"), transaction.atomic():
        DepositEntry.objects.create(
            provider=provider, kind="received", amount=Decimal("1"), currency="USD", reference="x"
        )
    with pytest.raises(PartnerError) as refused:
        services.deposit_record(
            provider_id=provider.pk, kind="refunded", amount=Decimal("100000.01"), by_id=auditor.pk
        )
    assert refused.value.code == "deposit_insufficient"
    with pytest.raises(PartnerError) as refused:
        services.deposit_record(
            provider_id=provider.pk,
            kind="deducted",
            amount=Decimal("1"),
            reason="",
            by_id=auditor.pk,
        )
    assert refused.value.code == "reason_required"
    with pytest.raises(PartnerError) as refused:
        services.deposit_record(
            provider_id=provider.pk,
            kind="received",
            amount=Decimal("1"),
            reference="",
            by_id=auditor.pk,
        )
    assert refused.value.code == "reference_required"
    assert DepositEntry.objects.filter(provider=provider).count() == 2


# --- international and certified ------------------------------------------------------------
def test_international_application_before_operator_certification_is_refused(
    auditor: Member,
) -> None:
    provider = registered(auditor)
    make_shop()
    approve(apply_operator(provider, "Blue Lotus Flagship"), auditor)  # deposit not yet held
    with pytest.raises(PartnerError) as refused:
        services.international_apply(
            member_id=owner_of(provider).pk, provider_id=provider.pk, details={}
        )
    assert refused.value.code == "operator_certification_required"
    assert not Application.objects.filter(stage="international").exists()


def test_international_profile_then_presentation_then_certified(auditor: Member) -> None:
    provider = certified_operator(auditor)
    owner = owner_of(provider)
    application = services.international_apply(
        member_id=owner.pk, provider_id=provider.pk, details={"markets": "EU"}
    )
    profile_passed = approve(application, auditor)
    assert profile_passed.status == S.AWAITING_PRESENTATION and profile_passed.due_at is None
    assert not selectors.certified(provider.pk, "international")
    uploaded = services.presentation_upload(
        member_id=owner.pk,
        application_id=application.pk,
        expected_version=profile_passed.version,
        presentation=checked_pdf("presentation"),
    )
    assert uploaded.status == S.PRESENTATION_REVIEW and uploaded.due_at is not None
    sent_back = decide(uploaded, auditor, "request_changes", "Add your team")
    assert sent_back.status == S.AWAITING_PRESENTATION
    again = services.presentation_upload(
        member_id=owner.pk,
        application_id=application.pk,
        expected_version=sent_back.version,
        presentation=checked_pdf("presentation"),
    )
    assert not services.provider_may_publish(provider_id=provider.pk)
    approve(again, auditor)
    assert selectors.certified(provider.pk, "international")
    assert (
        DepositEntry.objects.filter(provider=provider, kind="required").count() == 1
    )  # no second deposit
    assert services.provider_may_publish(provider_id=provider.pk)
    services.provider_publish_check(provider_id=provider.pk)


def test_publishing_before_certification_is_refused(auditor: Member) -> None:
    provider = certified_operator(auditor)
    with pytest.raises(PartnerError) as refused:
        services.provider_publish_check(provider_id=provider.pk)
    assert refused.value.code == "not_certified"
    assert str(refused.value) == "The international operator certification is not approved yet."


# --- information must stay current; suspension; revocation -----------------------------------
def test_registered_details_change_only_when_staff_approve(auditor: Member) -> None:
    provider = fully_certified(auditor)
    owner = owner_of(provider)
    change = services.provider_details_update(
        member_id=owner.pk,
        provider_id=provider.pk,
        values={"address": "9 New Street", "legal_name": "Jade Ops Group Ltd"},
    )
    provider.refresh_from_db()
    assert provider.address == "9 New Street"  # at once
    assert provider.legal_name == "Jade Operations Ltd"  # still in force
    assert change is not None and change.details == {"legal_name": "Jade Ops Group Ltd"}
    approve(change, auditor)
    provider.refresh_from_db()
    assert provider.legal_name == "Jade Ops Group Ltd"


def test_a_change_to_a_personal_payment_account_is_refused(auditor: Member) -> None:
    provider = fully_certified(auditor)
    with pytest.raises(PartnerError) as refused:
        services.provider_details_update(
            member_id=owner_of(provider).pk,
            provider_id=provider.pk,
            values={"payment_account_number": "1", "payment_account_kind": "personal"},
        )
    assert refused.value.code == "personal_payment_account"
    assert not Application.objects.filter(stage="details_change").exists()


def test_past_the_update_deadline_the_certification_is_suspended(auditor: Member) -> None:
    provider = fully_certified(auditor)
    deadline = timezone.now() + timedelta(days=14)
    services.provider_update_request(
        provider_id=provider.pk, deadline=deadline, note="New licence", by_id=auditor.pk
    )
    assert services.providers_suspend_overdue(now=deadline - timedelta(seconds=1)) == 0
    assert services.providers_suspend_overdue(now=deadline + timedelta(seconds=1)) == 1
    provider.refresh_from_db()
    assert provider.standing == "suspended"
    assert not services.provider_may_publish(provider_id=provider.pk)


def test_an_update_before_the_deadline_clears_it(auditor: Member) -> None:
    provider = fully_certified(auditor)
    deadline = timezone.now() + timedelta(days=14)
    services.provider_update_request(
        provider_id=provider.pk, deadline=deadline, note="New phone", by_id=auditor.pk
    )
    services.provider_details_update(
        member_id=owner_of(provider).pk, provider_id=provider.pk, values={"contact_phone": "+86 1"}
    )
    assert services.providers_suspend_overdue(now=deadline + timedelta(days=1)) == 0


def test_suspension_with_an_end_date_ends_by_itself(auditor: Member) -> None:
    provider = fully_certified(auditor)
    until = timezone.now() + timedelta(days=3)
    with pytest.raises(PartnerError):
        services.provider_suspend(provider_id=provider.pk, reason="", until=until, by_id=auditor.pk)
    services.provider_suspend(
        provider_id=provider.pk, reason="Complaints", until=until, by_id=auditor.pk
    )
    assert selectors.publish_refusals(provider.pk) == ["The certification is suspended."]
    assert selectors.publish_refusals(provider.pk, now=until + timedelta(seconds=1)) == []
    with pytest.raises(PartnerError) as refused:  # still in force: no second suspension
        services.provider_suspend(
            provider_id=provider.pk, reason="Again", until=None, by_id=auditor.pk
        )
    assert refused.value.code == "not_in_good_standing"
    import time_machine

    with time_machine.travel(until + timedelta(seconds=1)):
        services.provider_suspend(
            provider_id=provider.pk, reason="Again", until=None, by_id=auditor.pk
        )
    provider.refresh_from_db()
    assert (provider.standing_reason, provider.suspended_until) == ("Again", None)


def test_revocation_releases_the_shops_and_starts_the_deposit_return(auditor: Member) -> None:
    provider = fully_certified(auditor)
    services.provider_revoke(provider_id=provider.pk, reason="Fraud", by_id=auditor.pk)
    provider.refresh_from_db()
    assert provider.standing == "revoked"
    assert not ShopOperation.objects.filter(provider=provider, ended_at=None).exists()
    event = AuditEvent.objects.get(provider=provider, action="revoked")
    assert event.note == "Fraud · 100000.00 CNY"
    services.deposit_record(
        provider_id=provider.pk,
        kind="refunded",
        amount=Decimal("100000"),
        reference="RF-1",
        by_id=auditor.pk,
    )
    assert selectors.deposit_position(provider.pk).held == Decimal("0.00")
    assert not services.provider_may_publish(provider_id=provider.pk)


# --- people -------------------------------------------------------------------------------
def test_the_owner_invites_a_colleague_who_joins(
    auditor: Member, django_capture_on_commit_callbacks: Any
) -> None:
    provider = register()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            member_id=owner_of(provider).pk,
            provider_id=provider.pk,
            email="Colleague@Example.com",
            role="staff",
        )
    assert mail.outbox[-1].to == ["colleague@example.com"]
    colleague = MemberFactory(email="colleague@example.com")
    stranger = MemberFactory()
    with pytest.raises(PartnerError):
        services.invitation_accept(token=invitation.token, member_id=stranger.pk)
    person = services.invitation_accept(token=invitation.token, member_id=colleague.pk)
    assert (person.provider, person.role) == (provider, "staff")
    with pytest.raises(PartnerError) as refused:
        services.invitation_create(
            member_id=colleague.pk, provider_id=provider.pk, email="x@example.com", role="staff"
        )
    assert refused.value.code == "not_allowed"  # only the owner invites


def test_a_resubmission_edits_the_details_and_adds_documents(
    auditor: Member, documents_dir: Any
) -> None:
    provider = registered(auditor)
    make_shop()
    application = apply_operator(provider, "Blue Lotus Flagship")
    sent_back = decide(
        application, auditor, "request_changes", "Team size looks wrong; add the signed contract"
    )
    again = services.application_resubmit(
        member_id=owner_of(provider).pk,
        application_id=application.pk,
        expected_version=sent_back.version,
        details={"team_size": "40", "applicant_note": "Corrected"},
        documents=[("contract", checked_pdf())],
    )
    assert again.details == {
        "business_scope": "Store operations",
        "team_size": "40",
        "applicant_note": "Corrected",
    }
    assert again.documents.filter(kind="contract").count() == 2
    assert AuditEvent.objects.get(application=application, action="resubmitted").note == "Corrected"


def test_a_change_request_sent_back_cannot_turn_personal(auditor: Member) -> None:
    provider = fully_certified(auditor)
    owner = owner_of(provider)
    change = services.provider_details_update(
        member_id=owner.pk, provider_id=provider.pk, values={"payment_account_number": "9999"}
    )
    assert change is not None
    sent_back = decide(change, auditor, "request_changes", "Which bank?")
    with pytest.raises(PartnerError) as refused:
        services.application_resubmit(
            member_id=owner.pk,
            application_id=change.pk,
            expected_version=sent_back.version,
            details={"payment_account_number": "9999", "payment_account_kind": "personal"},
        )
    assert refused.value.code == "personal_payment_account"
    assert Application.objects.get(pk=change.pk).status == S.CHANGES_REQUESTED


def test_before_the_registration_is_approved_the_details_change_at_once() -> None:
    provider = register()
    change = services.provider_details_update(
        member_id=owner_of(provider).pk,
        provider_id=provider.pk,
        values={"legal_name": "Jade Ops Ltd"},
    )
    assert change is None
    provider.refresh_from_db()
    assert provider.legal_name == "Jade Ops Ltd"


def test_the_certified_step_says_what_is_missing(auditor: Member) -> None:
    provider = certified_operator(auditor)
    certified = selectors.roadmap(provider)[-1]
    assert certified.state == "locked"
    assert [str(line) for line in certified.lines] == [
        "The international operator certification is not approved yet."
    ]


def test_staff_actions_are_emailed_in_each_persons_language(
    auditor: Member, django_capture_on_commit_callbacks: Any
) -> None:
    provider = fully_certified(auditor)
    colleague = MemberFactory(language="zh-hans")
    ProviderMember.objects.create(provider=provider, member=colleague, role="staff")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.provider_suspend(
            provider_id=provider.pk, reason="Complaints", until=None, by_id=auditor.pk
        )
    subjects = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert subjects == sorted(
        [
            (owner_of(provider).email, "Jade Operations Ltd: Certification suspended"),
            (colleague.email, "Jade Operations Ltd: 认证已暂停"),
        ]
    )
    assert all("Complaints" in m.body for m in mail.outbox)


def test_a_deduction_below_the_required_deposit_stops_publishing_until_topped_up(
    auditor: Member,
) -> None:
    provider = fully_certified(auditor)
    services.deposit_record(
        provider_id=provider.pk,
        kind="deducted",
        amount=Decimal("5000"),
        reason="Fake reviews",
        by_id=auditor.pk,
    )
    assert [str(r) for r in selectors.publish_refusals(provider.pk)] == [
        "The deposit held is below the amount required: 5000.00 CNY to pay."
    ]
    services.deposit_record(
        provider_id=provider.pk,
        kind="received",
        amount=Decimal("5000"),
        reference="TOP-UP-1",
        by_id=auditor.pk,
    )
    assert services.provider_may_publish(provider_id=provider.pk)
