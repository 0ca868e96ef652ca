"""Create the demo staff user and demo member for `make run`. Passwords are printed once."""

from __future__ import annotations

import os
import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from members.models import Member
from members.services import member_create

DEMO_STAFF = "admin@example.com"
DEMO_MEMBER = "member@example.com"


class Command(BaseCommand):
    help = "Create the demo staff user and demo member (once); print their passwords once."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        site = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        created: list[tuple[str, str, str]] = []
        if not Member.objects.filter(email=DEMO_STAFF).exists():
            password = secrets.token_urlsafe(12)
            staff = Member.objects.create_superuser(
                email=DEMO_STAFF, password=password, name="Demo Admin"
            )
            EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
            created.append((f"staff ({site}/admin/)", DEMO_STAFF, password))
        if not Member.objects.filter(email=DEMO_MEMBER).exists():
            password = secrets.token_urlsafe(12)
            member = member_create(email=DEMO_MEMBER, password=password, name="Demo Member")
            EmailAddress.objects.create(
                user=member, email=member.email, verified=True, primary=True
            )
            created.append((f"member ({site}/me/)", DEMO_MEMBER, password))
        if not created:
            self.stdout.write(
                "Demo accounts already exist (passwords were printed when they were created; "
                "reset one with: python manage.py changepassword EMAIL)."
            )
            return
        self.stdout.write(self.style.SUCCESS("Demo accounts created. Save these passwords:"))
        for role, email, password in created:
            self.stdout.write(f"  {role}: {email} / {password}")
