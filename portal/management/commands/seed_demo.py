"""Create the demo for `make run`: a staff user, a member in each tier with a year of history,
coupons in every state and inbox notices. Idempotent; passwords are printed once.

Everything goes through the real services: the ledger (`points_award`, `points_redeem`), the
monthly tier job for each past month end (`tiers_recalculate`, then the tier notices its
outbox's subscribers write), a staff coupon job (`coupon_issue_job_run`), the
checkout's `coupon_redeem`, `coupons_void` and `coupons_expire`, and the points-expiring
announcement.
"""

from __future__ import annotations

import os
import secrets
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from benefits.coupons.models import Coupon, CouponIssueJob, CouponTemplate, Occasion
from benefits.coupons.services import (
    coupon_issue_job_run,
    coupon_redeem,
    coupons_expire,
    coupons_void,
)
from benefits.engagement.brands import week_start
from benefits.engagement.events import event_rsvp
from benefits.engagement.models import (
    Brand,
    FeaturedBrand,
    FeaturedBrandDiscount,
    MemberEvent,
    Sale,
    SaleEarlyAccess,
)
from core import outbox
from core.clock import add_months, month_end, program_timezone, program_today
from loyalty.ledger.services import points_award, points_expiring_announce, points_redeem
from loyalty.program.models import Tier
from loyalty.tiers.services import tiers_recalculate
from members.models import Member
from members.services import api_key_create, member_create

DEMO_STAFF = "admin@example.com"
DEMO_MEMBER = "member@example.com"
# One member per tier of the AliExpress ladder: (email, name, points earned per month).
DEMO_TIER_MEMBERS = [
    ("standard@example.com", "Sam Standard", 0),
    ("silver@example.com", "Sofia Silver", 5),
    ("gold@example.com", "Gao Gold", 25),
    ("platinum@example.com", "Priya Platinum", 90),
    ("diamond@example.com", "Diego Diamond", 200),
]
HISTORY_MONTHS = 12
DEMO_EVENT = "Northwind preview night"
DEMO_CHUNK = 25  # points per ledger entry of the demo history


class Command(BaseCommand):
    help = "Create the demo accounts and their history (once); print their passwords once."

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's year of history would send dozens of notice emails to made-up addresses
        # and bury the logins printed below: no email while seeding.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            self._seed()
            # What the demo's writes told the outbox (accounts for the new members...) is
            # handled now, so the demo is whole before the worker starts.
            while outbox.dispatch():
                pass

    def _seed(self) -> None:
        site = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        created: list[tuple[str, str, str]] = []
        staff = Member.objects.filter(email=DEMO_STAFF).first()
        if staff is None:
            password = secrets.token_urlsafe(12)
            staff = Member.objects.create_superuser(
                email=DEMO_STAFF, password=password, name="Demo Admin"
            )
            EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
            created.append((f"staff ({site}/admin/)", DEMO_STAFF, password))
        if not Member.objects.filter(email=DEMO_MEMBER).exists():
            password = secrets.token_urlsafe(12)
            _member(DEMO_MEMBER, "Demo Member", password, joined_on=program_today())
            created.append((f"member ({site}/me/)", DEMO_MEMBER, password))
        new_history = []
        joined = add_months(program_today(), -HISTORY_MONTHS)
        for email, name, monthly in DEMO_TIER_MEMBERS:
            if Member.objects.filter(email=email).exists():
                continue
            password = secrets.token_urlsafe(12)
            member = _member(email, name, password, joined_on=joined)
            new_history.append((member, monthly))
            created.append((f"member ({site}/me/)", email, password))
        self._showcase()  # before the history: the diamond member answers the demo event
        if new_history:
            self._history(new_history, staff)
        if not created:
            self.stdout.write(
                "Demo accounts already exist (passwords were printed when they were created; "
                "reset one with: python manage.py changepassword EMAIL)."
            )
            return
        self.stdout.write(self.style.SUCCESS("Demo accounts created. Save these passwords:"))
        for role, email, password in created:
            self.stdout.write(f"  {role}: {email} / {password}")

    def _history(self, members: list[tuple[Member, int]], staff: Member) -> None:
        today = program_today()
        zone = program_timezone()
        for member, monthly in members:
            for back in range(HISTORY_MONTHS, 0, -1):
                day = add_months(today, -back) + timedelta(days=3)
                at = datetime.combine(day, time(12), tzinfo=zone)
                for n in range(0, monthly, DEMO_CHUNK):
                    points = min(DEMO_CHUNK, monthly - n)
                    points_award(
                        member_id=member.pk,
                        points=points,
                        reason=f"{points} points for the orders of {day:%B %Y} (demo)",
                        occurred_at=at + timedelta(minutes=n),
                    )
            if monthly:
                points_redeem(
                    member_id=member.pk, points=monthly, reason="points spent on a demo reward"
                )
        # The monthly tier job for each past month end, oldest first (a finished period is
        # left alone, so this is safe on a database that already has runs).
        if Tier.objects.exists():
            for back in range(HISTORY_MONTHS, 0, -1):
                tiers_recalculate(as_of=month_end(add_months(today, -back)))
        points_expiring_announce(today=today)
        self._coupons([m for m, _monthly in members], staff)
        # The diamond member has already answered the demo event.
        diamond = next((m for m, _monthly in members if m.email.startswith("diamond@")), None)
        event = MemberEvent.objects.filter(title=DEMO_EVENT).first()
        if diamond is not None and event is not None:
            event_rsvp(event_id=event.pk, member=diamond)

    def _showcase(self) -> None:
        """A brand of the week (extra discount per tier), a member event and a sale with early
        access, as staff would set them up in the admin. Created once."""
        if Brand.objects.filter(code="northwind").exists():
            return
        now = timezone.now()
        today = program_today()
        tiers = {t.code: t for t in Tier.objects.all()}
        brand = Brand.objects.create(
            code="northwind",
            name="Northwind Outdoor",
            description="Jackets, boots and tents for every season.",
            categories="shoes, outdoor, bags",
        )
        Brand.objects.create(code="lumen", name="Lumen Home", categories="home, kitchen")
        featured = FeaturedBrand.objects.create(
            brand=brand,
            week_start=week_start(today),
            headline="Trail season: extra off for members",
        )
        for code, percent in (("silver", 3), ("gold", 5), ("platinum", 8), ("diamond", 10)):
            if code in tiers:
                FeaturedBrandDiscount.objects.create(
                    featured=featured, tier=tiers[code], percent=Decimal(percent)
                )
        event = MemberEvent.objects.create(
            title=DEMO_EVENT,
            description="An evening with Northwind's designers: see next season's range first.",
            starts_at=now + timedelta(days=14),
            place="Northwind flagship store, 1 Harbour Road",
            host_brand=brand,
            capacity=20,
            rsvp_deadline=now + timedelta(days=12),
        )
        event.eligible_tiers.set(
            [t for c, t in tiers.items() if c in ("gold", "platinum", "diamond")]
        )
        sale = Sale.objects.create(
            title="Northwind winter sale",
            description="Up to 40% off jackets and boots.",
            brand=brand,
            public_start_at=now + timedelta(hours=30),
            ends_at=now + timedelta(days=7),
        )
        for code, hours in (("gold", 24), ("platinum", 36), ("diamond", 48)):
            if code in tiers:
                SaleEarlyAccess.objects.create(sale=sale, tier=tiers[code], hours=hours)

    def _coupons(self, members: list[Member], staff: Member) -> None:
        """Coupons in every state for each demo member: available, used, void, expired."""
        now = timezone.now()
        numbers = "\n".join(m.number for m in members)
        specs: list[tuple[str, str, dict[str, Any]]] = [
            ("demo-welcome", "Welcome gift", {"valid_days": 60}),
            ("demo-spring", "Spring sale", {"valid_days": 30}),
            ("demo-flash", "Flash voucher", {"valid_days": 7}),
            (
                "demo-last-season",
                "Last season's voucher",
                {
                    "valid_days": None,
                    "valid_from": now - timedelta(days=60),
                    # issued while its window was open; moved into the past below
                    "valid_until": now + timedelta(hours=1),
                },
            ),
        ]
        issued: dict[str, list[Coupon]] = {}
        for code, name, validity in specs:
            template, _created = CouponTemplate.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "kind": CouponTemplate.Kind.AMOUNT_OFF,
                    "value": Decimal("3.00"),
                    "currency": "USD",
                    "min_order": Decimal("10.00"),
                    "occasion": Occasion.MANUAL,
                    **validity,
                },
            )
            with transaction.atomic():
                job = CouponIssueJob.objects.create(
                    template=template, reason="Demo", member_numbers=numbers, created_by=staff
                )
            coupon_issue_job_run(job_id=job.pk)
            issued[code] = list(Coupon.objects.filter(job=job).select_related("member"))
        # History: last season's vouchers were issued back then and ran out 30 days ago.
        ended = now - timedelta(days=30)
        CouponTemplate.objects.filter(code="demo-last-season").update(valid_until=ended)
        Coupon.objects.filter(template__code="demo-last-season").update(
            issued_at=now - timedelta(days=60), valid_until=ended
        )
        api_key, _full = api_key_create(name="demo shop")
        for n, coupon in enumerate(issued["demo-spring"]):
            coupon_redeem(
                api_key=api_key,
                request_id=f"demo-{coupon.pk}",
                code=coupon.code,
                member_number=coupon.member.number,
                order_number=f"DEMO-ORDER-{coupon.pk}-{n}",
                order_amount=Decimal("25.00"),
            )
        coupons_void(coupon_ids=[c.pk for c in issued["demo-flash"]])
        coupons_expire()


def _member(email: str, name: str, password: str, *, joined_on: date) -> Member:
    member = member_create(email=email, password=password, name=name, joined_on=joined_on)
    EmailAddress.objects.create(user=member, email=member.email, verified=True, primary=True)
    return member
