"""Partner fixtures: documents stored in a temporary directory, a company at each point of the
roadmap (made through the services), shops, an auditor of the "Partner auditors" group."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from core.clock import program_today
from members.models import Member
from partners import services
from partners.documents import CheckedUpload, upload_check
from partners.models import Application, IdentityCheck, Provider, Shop
from partners.storage import document_storage
from tests.factories import MemberFactory

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def pdf_file(name: str = "doc.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def png_file(name: str = "selfie.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def checked_pdf(kind: str = "contract") -> CheckedUpload:
    return upload_check(pdf_file(), kind=kind, field="file")


def checked_png(kind: str = "identity_second") -> CheckedUpload:
    return upload_check(png_file(), kind=kind, field="file")


def company(**overrides: Any) -> services.CompanyDetails:
    values = {
        "legal_name": "Jade Operations Ltd",
        "registration_number": "91310000MA1FL0001X",
        "country": "CN",
        "address": "1 Bund Road, Shanghai",
        "contact_name": "Li Wei",
        "contact_email": "li.wei@jade.example",
        "contact_phone": "+86 21 5555 0101",
        "payment_account_name": "Jade Operations Ltd",
        "payment_account_number": "6222 0000 1111 2222",
        "payment_provider": "Alipay (corporate)",
        "payment_account_kind": "corporate",
    }
    values.update(overrides)
    return services.CompanyDetails(**values)


@pytest.fixture(autouse=True)
def documents_dir(tmp_path: Path) -> Iterator[Path]:
    """Documents go to a temporary directory (the storage instance is shared)."""
    storage: Any = document_storage()
    saved = dict(storage.__dict__)
    for name in ("base_location", "location"):
        storage.__dict__.pop(name, None)
    storage._location = str(tmp_path / "documents")
    yield tmp_path / "documents"
    storage.__dict__.clear()
    storage.__dict__.update(saved)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def auditor(db: Any) -> Member:
    return make_auditor()


def make_auditor() -> Member:
    """A staff member of the "Partner auditors" group (not a superuser)."""
    if not Group.objects.filter(name="Partner auditors").exists():
        # a transactional test's flush empties what the data migration made: make it again
        import importlib

        from django.apps import apps

        importlib.import_module("partners.migrations.0003_auditors_group").forward(apps, None)
    member = MemberFactory(email="auditor@example.com", is_staff=True)
    member.groups.add(Group.objects.get(name="Partner auditors"))
    return member


def register(member: Member | None = None, **overrides: Any) -> Provider:
    member = member or MemberFactory()
    return services.provider_register(
        member_id=member.pk,
        company=company(**overrides),
        licence=checked_pdf("business_licence"),
        identity=checked_pdf("identity"),
        identity_second=checked_png(),
    )


def owner_of(provider: Provider) -> Member:
    return provider.people.get(role="owner").member


def open_application(provider: Provider, stage: str) -> Application:
    return Application.objects.get(provider=provider, stage=stage, status__in=Application.OPEN)


def approve(application: Application, auditor: Member, note: str = "") -> Application:
    return services.application_decide(
        application_id=application.pk,
        expected_status=application.status,
        expected_version=application.version,
        decision="approve",
        note=note,
        by_id=auditor.pk,
    )


def registered(auditor: Member, **overrides: Any) -> Provider:
    """A provider whose registration is approved (identity verified by staff)."""
    provider = register(**overrides)
    check = IdentityCheck.objects.get(provider=provider)
    services.identity_check_decide(check_id=check.pk, verified=True, note="", by_id=auditor.pk)
    approve(open_application(provider, "registration"), auditor)
    return provider


def make_shop(nickname: str = "Blue Lotus Flagship", **overrides: Any) -> Shop:
    values = {
        "nickname": nickname,
        "owner_company": "Blue Lotus Brand Co",
        "owner_registration_number": "BL-0001",
        "active": True,
        "opened_on": program_today() - timedelta(days=400),
        "open_violations": 0,
    }
    values.update(overrides)
    return Shop.objects.create(**values)


def apply_operator(
    provider: Provider, *nicknames: str, contract_nickname: str | None = None
) -> Application:
    requests = [
        services.ShopRequest(
            nickname=n,
            contract_nickname=contract_nickname if contract_nickname is not None else n,
            contract=checked_pdf(),
        )
        for n in nicknames
    ]
    return services.operator_apply(
        member_id=owner_of(provider).pk,
        provider_id=provider.pk,
        details={"business_scope": "Store operations", "team_size": "12"},
        shops=requests,
    )


def certified_operator(auditor: Member, nickname: str = "Blue Lotus Flagship") -> Provider:
    provider = registered(auditor)
    if not Shop.objects.filter(nickname=nickname).exists():
        make_shop(nickname)
    approve(apply_operator(provider, nickname), auditor)
    services.deposit_record(
        provider_id=provider.pk,
        kind="received",
        amount=Decimal("100000.00"),
        reference="BANK-REF-1",
        by_id=auditor.pk,
    )
    return provider


def fully_certified(auditor: Member) -> Provider:
    provider = certified_operator(auditor)
    application = services.international_apply(
        member_id=owner_of(provider).pk, provider_id=provider.pk, details={"markets": "EU"}
    )
    application = approve(application, auditor)
    application = services.presentation_upload(
        member_id=owner_of(provider).pk,
        application_id=application.pk,
        expected_version=application.version,
        presentation=checked_pdf("presentation"),
    )
    approve(application, auditor)
    return provider


__all__ = ["date"]
