from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command

from benefits.coupons.models import Coupon, Occasion
from benefits.coupons.services import coupons_expire, issue_occasion_coupons, levelup_reward_issue
from loyalty.ledger.models import Account
from loyalty.program.models import Program, Tier
from members.models import Member
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 15)


def set_tier(member: Member, tier: Tier | None) -> None:
    Account.objects.update_or_create(member=member, defaults={"tier": tier})


def silver_member(ladder: dict[str, Tier], **fields: object) -> Member:
    member = MemberFactory(**fields)
    set_tier(member, ladder["silver"])
    return member


@pytest.fixture
def birthday_template(ladder: dict[str, Tier]):
    silver_up = [ladder[c] for c in ("silver", "gold", "platinum", "diamond")]
    return CouponTemplateFactory(
        code="birthday", name="Birthday coupon", occasion=Occasion.BIRTHDAY, tiers=silver_up
    )


@pytest.fixture
def anniversary_template(ladder: dict[str, Tier]):
    silver_up = [ladder[c] for c in ("silver", "gold", "platinum", "diamond")]
    return CouponTemplateFactory(
        code="anniversary",
        name="Anniversary coupon",
        occasion=Occasion.ANNIVERSARY,
        value=Decimal("3.00"),
        tiers=silver_up,
    )


def test_birthday_on_file_one_day_before_gives_nothing(ladder, birthday_template) -> None:
    silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=DAY - timedelta(days=1))
    result = issue_occasion_coupons(day=DAY)
    assert result.birthday == 0
    assert not Coupon.objects.exists()


def test_birthday_on_file_two_days_before_gives_a_coupon(
    ladder, birthday_template, django_capture_on_commit_callbacks
) -> None:
    Program.objects.update_or_create(pk=1, defaults={"time_zone": "Asia/Shanghai"})
    member = silver_member(
        ladder, birthday=date(1990, 6, 15), birthday_set_on=DAY - timedelta(days=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = issue_occasion_coupons(day=DAY)
    assert (result.birthday, result.anniversary) == (1, 0)
    coupon = Coupon.objects.get()
    assert coupon.member == member
    assert coupon.template == birthday_template
    assert coupon.occasion == "birthday"
    assert coupon.period == date(2026, 1, 1)
    assert coupon.status == "available"
    assert coupon.reason == "Birthday 2026"
    shanghai = ZoneInfo("Asia/Shanghai")
    assert coupon.valid_from == datetime(2026, 6, 15, tzinfo=shanghai)
    assert coupon.valid_until == datetime(2026, 7, 15, tzinfo=shanghai)
    assert re.fullmatch(r"([A-HJKMNP-Z2-9]{4}-){3}[A-HJKMNP-Z2-9]{4}", coupon.code)
    birthday_template.refresh_from_db()
    assert birthday_template.issued_count == 1
    # One email, after commit, listing the coupon and how to use it.
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [member.email]
    assert sent.subject == "A coupon for you: Birthday coupon"
    assert coupon.code in sent.body
    assert "5.00 USD off" in sent.body
    assert "Minimum order: 10.00 USD" in sent.body
    assert "Valid: June 15, 2026, midnight – July 15, 2026, midnight" in sent.body
    assert "enter the code at checkout" in sent.body
    assert "http://127.0.0.1:8000/me/coupons/" in sent.body  # an absolute link (SITE_URL)


def test_birthday_needs_a_tier_that_grants_it(ladder, birthday_template) -> None:
    standard = MemberFactory(birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    no_account = MemberFactory(birthday=date(1991, 6, 15), birthday_set_on=date(2020, 1, 1))
    set_tier(standard, ladder["standard"])
    assert issue_occasion_coupons(day=DAY).birthday == 0
    assert not Coupon.objects.exists()
    # Promoted the same day: a rerun of the job issues the coupon, to the promoted member only.
    set_tier(standard, ladder["gold"])
    assert issue_occasion_coupons(day=DAY).birthday == 1
    assert list(Coupon.objects.values_list("member", flat=True)) == [standard.pk]
    assert not Coupon.objects.filter(member=no_account).exists()


def test_a_member_who_changes_tier_keeps_one_coupon_per_year(ladder, birthday_template) -> None:
    member = silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    assert issue_occasion_coupons(day=DAY).birthday == 1
    set_tier(member, ladder["diamond"])
    assert issue_occasion_coupons(day=DAY).birthday == 0
    # Demoted to the base tier before next year's birthday: nothing next year.
    set_tier(member, None)
    assert issue_occasion_coupons(day=date(2027, 6, 15)).birthday == 0
    assert Coupon.objects.count() == 1


def test_29_february_is_celebrated_on_28_february_in_other_years(ladder, birthday_template) -> None:
    member = silver_member(ladder, birthday=date(2000, 2, 29), birthday_set_on=date(2020, 1, 1))
    assert issue_occasion_coupons(day=date(2027, 2, 27)).birthday == 0
    assert issue_occasion_coupons(day=date(2027, 2, 28)).birthday == 1
    assert issue_occasion_coupons(day=date(2027, 3, 1)).birthday == 0
    # A leap year: the 28th is not the day, the 29th is.
    assert issue_occasion_coupons(day=date(2028, 2, 28)).birthday == 0
    assert issue_occasion_coupons(day=date(2028, 2, 29)).birthday == 1
    periods = sorted(Coupon.objects.filter(member=member).values_list("period", flat=True))
    assert periods == [date(2027, 1, 1), date(2028, 1, 1)]


def test_a_rerun_of_the_daily_job_inserts_nothing_and_sends_nothing(
    ladder, birthday_template, anniversary_template, django_capture_on_commit_callbacks
) -> None:
    silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    silver_member(ladder, joined_on=date(2024, 6, 15))
    silver_member(ladder, joined_on=date(2026, 6, 15))  # joined today: no anniversary yet
    with django_capture_on_commit_callbacks(execute=True):
        first = issue_occasion_coupons(day=DAY)
    assert (first.birthday, first.anniversary) == (1, 1)
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = issue_occasion_coupons(day=DAY)
    assert (again.birthday, again.anniversary) == (0, 0)
    assert callbacks == []
    assert Coupon.objects.count() == 2
    assert len(mail.outbox) == 2


def test_two_birthday_templates_still_give_one_coupon_per_year(ladder, birthday_template) -> None:
    CouponTemplateFactory(code="birthday-2", occasion=Occasion.BIRTHDAY)
    silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    assert issue_occasion_coupons(day=DAY).birthday == 1
    assert Coupon.objects.get().template == birthday_template


def test_anniversary_from_the_first_year(ladder, anniversary_template) -> None:
    member = silver_member(ladder, joined_on=date(2025, 6, 15))
    assert issue_occasion_coupons(day=date(2026, 6, 14)).anniversary == 0
    assert issue_occasion_coupons(day=DAY).anniversary == 1
    assert issue_occasion_coupons(day=date(2027, 6, 15)).anniversary == 1
    coupons = Coupon.objects.filter(member=member).order_by("period")
    assert [c.reason for c in coupons] == [
        "Membership anniversary 2026",
        "Membership anniversary 2027",
    ]


def test_inactive_members_and_inactive_templates_get_nothing(ladder, birthday_template) -> None:
    silver_member(
        ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1), is_active=False
    )
    assert issue_occasion_coupons(day=DAY).birthday == 0
    silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    birthday_template.active = False
    birthday_template.save()
    assert issue_occasion_coupons(day=DAY).birthday == 0
    assert not Coupon.objects.exists()


def test_management_command_takes_a_date(ladder, birthday_template) -> None:
    silver_member(ladder, birthday=date(1990, 6, 15), birthday_set_on=date(2020, 1, 1))
    out = io.StringIO()
    call_command("issue_occasion_coupons", "--date", "2026-06-15", stdout=out)
    assert out.getvalue().strip() == "Issued 1 coupons (1 birthday, 0 anniversary)."
    out = io.StringIO()
    call_command("issue_occasion_coupons", "--date", "2026-06-15", stdout=out)
    assert out.getvalue().strip() == "Issued 0 coupons (0 birthday, 0 anniversary)."


def test_the_email_follows_the_members_language(
    ladder, birthday_template, django_capture_on_commit_callbacks
) -> None:
    silver_member(
        ladder,
        birthday=date(1990, 6, 15),
        birthday_set_on=date(2020, 1, 1),
        language="zh-hans",
    )
    with django_capture_on_commit_callbacks(execute=True):
        issue_occasion_coupons(day=DAY)
    # No Chinese catalogue ships yet: the email falls back to English, rendered under zh-hans.
    assert len(mail.outbox) == 1
    assert Coupon.objects.get().code in mail.outbox[0].body


def test_level_up_once_per_member_per_tier_per_period(
    ladder, django_capture_on_commit_callbacks
) -> None:
    template = CouponTemplateFactory(
        code="level-up", occasion=Occasion.LEVEL_UP, tiers=[ladder["gold"], ladder["silver"]]
    )
    member = MemberFactory()
    period = date(2026, 6, 30)
    with django_capture_on_commit_callbacks(execute=True):
        coupon = levelup_reward_issue(member_id=member.pk, tier_id=ladder["gold"].pk, period=period)
    assert coupon is not None
    assert (coupon.template, coupon.tier, coupon.period) == (template, ladder["gold"], period)
    assert coupon.reason == "Promoted to Gold"
    assert len(mail.outbox) == 1
    again = levelup_reward_issue(member_id=member.pk, tier_id=ladder["gold"].pk, period=period)
    assert again is None
    # No template covers Diamond: nothing.
    assert (
        levelup_reward_issue(member_id=member.pk, tier_id=ladder["diamond"].pk, period=period)
        is None
    )
    # Another period is another promotion.
    assert (
        levelup_reward_issue(
            member_id=member.pk, tier_id=ladder["gold"].pk, period=date(2026, 9, 30)
        )
        is not None
    )
    assert Coupon.objects.count() == 2
    template.refresh_from_db()
    assert template.issued_count == 2


def test_level_up_respects_the_total_quantity(ladder) -> None:
    CouponTemplateFactory(code="level-up", occasion=Occasion.LEVEL_UP, total_quantity=1)
    first, second = MemberFactory(), MemberFactory()
    period = date(2026, 6, 30)
    assert levelup_reward_issue(member_id=first.pk, tier_id=ladder["gold"].pk, period=period)
    assert (
        levelup_reward_issue(member_id=second.pk, tier_id=ladder["gold"].pk, period=period) is None
    )
    assert Coupon.objects.count() == 1


def test_no_level_up_coupon_is_born_expired(ladder) -> None:
    from datetime import timedelta

    from django.utils import timezone

    CouponTemplateFactory(
        code="level-up",
        occasion=Occasion.LEVEL_UP,
        valid_days=None,
        valid_from=timezone.now() - timedelta(days=30),
        valid_until=timezone.now() - timedelta(days=1),
    )
    member = MemberFactory()
    assert (
        levelup_reward_issue(
            member_id=member.pk, tier_id=ladder["gold"].pk, period=date(2026, 6, 30)
        )
        is None
    )
    assert not Coupon.objects.exists()


def test_expiry_job_marks_only_coupons_past_their_end() -> None:
    past = CouponFactory(
        valid_until=datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")),
        valid_from=datetime(2026, 5, 1, tzinfo=ZoneInfo("UTC")),
    )
    current = CouponFactory()
    used = CouponFactory(
        status="redeemed", valid_until=past.valid_until, valid_from=past.valid_from
    )
    assert coupons_expire() == 1
    assert coupons_expire() == 0
    statuses = {c.pk: c.status for c in Coupon.objects.all()}
    assert statuses == {past.pk: "expired", current.pk: "available", used.pk: "redeemed"}
