"""The partner demo for `make run`: an auditor login (the "Partner auditors" group, not a
superuser), shops for the assessment, a demo partner company part-way through the roadmap
(registered, operator audit passed, 60,000 of the 100,000 CNY deposit received) and a second
company whose registration awaits the audit desk. Idempotent; passwords are printed once.
Everything goes through the services, as staff and partners would."""

from __future__ import annotations

import os
import secrets
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from core.clock import program_today
from members.models import Member
from partners import services
from partners.documents import upload_check
from partners.models import Application, CalendarDay, IdentityCheck, Provider, Shop

DEMO_AUDITOR = "auditor@example.com"
DEMO_PARTNER = "partner@example.com"
DEMO_APPLICANT = "applicant@example.com"
DEMO_PDF = b"%PDF-1.4\n% demo document\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DEMO_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _pdf(kind: str, name: str) -> Any:
    return upload_check(SimpleUploadedFile(name, DEMO_PDF), kind=kind, field="file")


def _png(kind: str, name: str) -> Any:
    return upload_check(SimpleUploadedFile(name, BytesIO(DEMO_PNG).read()), kind=kind, field="file")


def _person(email: str, name: str, password: str, **extra: Any) -> Member:
    member = Member.objects.create_user(email=email, password=password, name=name, **extra)
    EmailAddress.objects.create(user=member, email=email, verified=True, primary=True)
    return member


class Command(BaseCommand):
    help = (
        "Create the partner demo (once): an auditor, shops, a company part-way through the roadmap."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            created = self._seed()
        if not created:
            self.stdout.write("Partner demo already exists.")
            return
        site = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(self.style.SUCCESS("Partner demo created. Save these passwords:"))
        for role, email, password in created:
            self.stdout.write(
                f"  {role} ({site}{'/partners/desk/' if 'auditor' in role else '/partners/'}): {email} / {password}"
            )

    @transaction.atomic
    def _seed(self) -> list[tuple[str, str, str]]:
        if Member.objects.filter(email=DEMO_AUDITOR).exists():
            return []
        created = []
        password = secrets.token_urlsafe(12)
        auditor = _person(DEMO_AUDITOR, "Demo Auditor", password, is_staff=True)
        auditor.groups.add(Group.objects.get(name="Partner auditors"))
        created.append(("partner auditor", DEMO_AUDITOR, password))

        today = program_today()
        for day, name in ((date(today.year + 1, 1, 1), "New Year's Day"),):
            CalendarDay.objects.get_or_create(day=day, defaults={"kind": "holiday", "name": name})
        shops = [
            ("Blue Lotus Flagship", "Blue Lotus Brand Co", 800, True, 0),
            ("Green Tea House", "Green Tea Ltd", 20, True, 0),
            ("Harbour Outdoor Store", "Harbour Outdoor GmbH", 500, True, 1),
            ("Silk Road Home", "Silk Road Home Ltd", 365, True, 0),
        ]
        for nickname, owner, age, active, violations in shops:
            Shop.objects.get_or_create(
                nickname=nickname,
                defaults={
                    "owner_company": owner,
                    "active": active,
                    "opened_on": today - timedelta(days=age),
                    "open_violations": violations,
                },
            )

        # A company part-way: registered, operator audit passed, deposit partly received.
        password = secrets.token_urlsafe(12)
        partner = _person(DEMO_PARTNER, "Li Wei", password)
        created.append(("partner owner", DEMO_PARTNER, password))
        provider = services.provider_register(
            member_id=partner.pk,
            company=services.CompanyDetails(
                legal_name="Jade Operations Ltd",
                registration_number="91310000DEMO0001X",
                country="CN",
                address="1 Bund Road, Huangpu, Shanghai",
                contact_name="Li Wei",
                contact_email=DEMO_PARTNER,
                contact_phone="+86 21 5555 0101",
                payment_account_name="Jade Operations Ltd",
                payment_account_number="6222 0000 1111 2222",
                payment_provider="Alipay (corporate)",
                payment_account_kind=Provider.PaymentKind.CORPORATE,
            ),
            licence=_pdf("business_licence", "business-licence.pdf"),
            identity=_pdf("identity", "id-card.pdf"),
            identity_second=_png("identity_second", "selfie.png"),
        )
        check = IdentityCheck.objects.get(provider=provider)
        services.identity_check_decide(check_id=check.pk, verified=True, note="", by_id=auditor.pk)
        registration = Application.objects.get(provider=provider, stage="registration")
        services.application_decide(
            application_id=registration.pk,
            expected_status=registration.status,
            expected_version=registration.version,
            decision="approve",
            note="",
            by_id=auditor.pk,
        )
        operator = services.operator_apply(
            member_id=partner.pk,
            provider_id=provider.pk,
            details={
                "business_scope": "Store operations, customer service, campaigns",
                "team_size": "24",
                "website": "",
            },
            shops=[
                services.ShopRequest(
                    nickname="Blue Lotus Flagship",
                    contract_nickname="Blue Lotus Flagship",
                    contract=_pdf("contract", "operating-contract.pdf"),
                )
            ],
        )
        services.application_decide(
            application_id=operator.pk,
            expected_status=operator.status,
            expected_version=operator.version,
            decision="approve",
            note="Contract and shop checked.",
            by_id=auditor.pk,
        )
        services.deposit_record(
            provider_id=provider.pk,
            kind="received",
            amount=Decimal("60000.00"),
            reference="CMB-20261201-0042",
            by_id=auditor.pk,
        )

        # A second company whose registration waits on the audit desk.
        password = secrets.token_urlsafe(12)
        applicant = _person(DEMO_APPLICANT, "Anna Berg", password, language="en")
        created.append(("partner applicant", DEMO_APPLICANT, password))
        services.provider_register(
            member_id=applicant.pk,
            company=services.CompanyDetails(
                legal_name="Harbour Commerce Services GmbH",
                registration_number="HRB 123456",
                country="DE",
                address="Hafenstrasse 1, Hamburg",
                contact_name="Anna Berg",
                contact_email=DEMO_APPLICANT,
                contact_phone="+49 40 555 0101",
                payment_account_name="Harbour Commerce Services GmbH",
                payment_account_number="DE89 3704 0044 0532 0130 00",
                payment_provider="Hamburger Sparkasse",
                payment_account_kind=Provider.PaymentKind.CORPORATE,
            ),
            licence=_pdf("business_licence", "handelsregister.pdf"),
            identity=_pdf("identity", "passport.pdf"),
            identity_second=_png("identity_second", "selfie.png"),
        )
        return created
