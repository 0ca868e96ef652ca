"""Two auditors deciding the same application at once (real PostgreSQL transactions in
threads): one decision is recorded, the other is told the application moved on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from members.models import Member
from partners import selectors, services
from partners.errors import PartnerError
from partners.models import Application, AuditEvent, DepositEntry, IdentityCheck
from tests.concurrency import run_threads
from tests.factories import MemberFactory

from .conftest import apply_operator, approve, make_shop, open_application, register, registered

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_auditors_deciding_at_once_produce_one_decision(auditor: Member) -> None:
    other = MemberFactory(email="auditor2@example.com", is_staff=True)
    provider = register()
    check = IdentityCheck.objects.get(provider=provider)
    services.identity_check_decide(check_id=check.pk, verified=True, note="", by_id=auditor.pk)
    application = open_application(provider, "registration")
    decisions = [("approve", "", auditor.pk), ("reject", "Licence expired", other.pk)]

    def work(i: int) -> Any:
        decision, note, by = decisions[i]
        try:
            return services.application_decide(
                application_id=application.pk,
                expected_status=application.status,
                expected_version=application.version,
                decision=decision,
                note=note,
                by_id=by,
            ).status
        except PartnerError as refusal:
            return refusal.code

    results = run_threads(2, work)
    assert sorted(results, key=str).count("stale_application") == 1
    final = Application.objects.get(pk=application.pk)
    assert final.status in ("approved", "rejected")
    assert final.status in results
    decided = AuditEvent.objects.filter(
        application=application, action__in=["approved", "rejected"]
    )
    assert decided.count() == 1
    assert final.version == application.version + 1


def test_deposits_recorded_at_once_activate_the_certification_once(auditor: Member) -> None:
    provider = registered(auditor)
    make_shop()
    approve(apply_operator(provider, "Blue Lotus Flagship"), auditor)

    def work(i: int) -> Any:
        return services.deposit_record(
            provider_id=provider.pk,
            kind="received",
            amount=Decimal("50000"),
            reference=f"R-{i}",
            by_id=auditor.pk,
        ).pk

    run_threads(2, work)
    assert selectors.deposit_position(provider.pk).held == Decimal("100000.00")
    assert selectors.certified(provider.pk, "operator")
    assert AuditEvent.objects.filter(provider=provider, action="certified").count() == 1
    assert DepositEntry.objects.filter(provider=provider, kind="received").count() == 2


def test_two_operator_applications_at_once_open_one(auditor: Member) -> None:
    provider = registered(auditor)
    make_shop()

    def work(i: int) -> Any:
        try:
            return apply_operator(provider, "Blue Lotus Flagship").status
        except PartnerError as refusal:
            return refusal.code

    assert sorted(run_threads(2, work)) == ["application_open", "submitted"]
    assert Application.objects.filter(provider=provider, stage="operator").count() == 1


def test_the_same_registration_number_twice_at_once_registers_one_company(
    documents_dir: Any,
) -> None:
    from .conftest import stored_files

    members = [MemberFactory(), MemberFactory()]

    def work(i: int) -> Any:
        try:
            return register(members[i]).registration_number
        except PartnerError as refusal:
            return refusal.code

    assert sorted(run_threads(2, work)) == ["91310000MA1FL0001X", "registration_number_taken"]
    assert len(stored_files(documents_dir)) == 3  # the refused one left no file behind
