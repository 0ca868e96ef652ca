from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from benefits.coupons.models import (
    Coupon,
    CouponIssueJob,
    CouponTemplate,
    DailyQuotaCounter,
    Occasion,
)
from benefits.coupons.services import (
    CouponError,
    coupon_issue_job_run,
    coupon_issue_job_start,
    daily_coupon_claim,
)
from loyalty.ledger.models import Account
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 15)


def test_daily_quota_is_exact_and_one_per_member_per_day(ladder) -> None:
    template = CouponTemplateFactory(occasion=Occasion.DAILY_QUOTA, daily_quota=2)
    first, second, third = MemberFactory(), MemberFactory(), MemberFactory()
    daily_coupon_claim(member=first, template_id=template.pk, day=DAY)
    with pytest.raises(CouponError) as twice:
        daily_coupon_claim(member=first, template_id=template.pk, day=DAY)
    assert twice.value.code == "already_claimed"
    daily_coupon_claim(member=second, template_id=template.pk, day=DAY)
    with pytest.raises(CouponError) as late:
        daily_coupon_claim(member=third, template_id=template.pk, day=DAY)
    assert late.value.code == "sold_out"
    assert not Coupon.objects.filter(member=third).exists()
    assert DailyQuotaCounter.objects.get().claimed == 2
    # A new day, a new quota.
    daily_coupon_claim(member=third, template_id=template.pk, day=date(2026, 6, 16))
    assert Coupon.objects.count() == 3


def test_daily_claim_of_an_unknown_template_writes_nothing(member) -> None:
    manual = CouponTemplateFactory(occasion=Occasion.MANUAL)
    with pytest.raises(CouponError) as refused:
        daily_coupon_claim(member=member, template_id=manual.pk, day=DAY)
    assert refused.value.code == "not_found"
    assert not Coupon.objects.exists()
    assert not DailyQuotaCounter.objects.exists()


def test_daily_claim_of_a_template_whose_window_is_over_writes_nothing(ladder) -> None:
    from datetime import timedelta

    from django.utils import timezone

    over = CouponTemplateFactory(
        occasion=Occasion.DAILY_QUOTA,
        daily_quota=5,
        valid_days=None,
        valid_from=timezone.now() - timedelta(days=10),
        valid_until=timezone.now() - timedelta(days=1),
    )
    with pytest.raises(CouponError) as refused:
        daily_coupon_claim(member=MemberFactory(), template_id=over.pk, day=DAY)
    assert refused.value.code == "not_found"
    assert not Coupon.objects.exists()
    assert not DailyQuotaCounter.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_daily_quota_is_exact_when_many_claim_at_once() -> None:
    template = CouponTemplate.objects.create(
        code="daily",
        name="Daily",
        kind="amount_off",
        value=Decimal("3"),
        valid_days=1,
        occasion="daily_quota",
        daily_quota=3,
    )
    members = [MemberFactory() for _i in range(12)]
    barrier = threading.Barrier(len(members))
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(member) -> None:
        try:
            barrier.wait()
            try:
                daily_coupon_claim(member=member, template_id=template.pk, day=DAY)
                outcome = "ok"
            except CouponError as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["sold_out"] * 9
    assert Coupon.objects.count() == 3
    assert DailyQuotaCounter.objects.get().claimed == 3
    template.refresh_from_db()
    assert template.issued_count == 3


def test_staff_issue_job_with_filters_progress_and_rerun(
    ladder, django_capture_on_commit_callbacks
) -> None:
    template = CouponTemplateFactory(name="Sorry coupon")
    gold = [MemberFactory(language="zh-hans") for _i in range(3)]
    for member in gold:
        Account.objects.create(member=member, tier=ladder["gold"])
    MemberFactory(language="zh-hans")  # base tier: filtered out
    Account.objects.create(member=MemberFactory(language="en"), tier=ladder["gold"])  # language
    job = CouponIssueJob.objects.create(
        template=template, reason="Delivery delay", language="zh-hans"
    )
    job.tiers.set([ladder["gold"]])
    with django_capture_on_commit_callbacks() as queued:
        coupon_issue_job_start(job=job)
    assert len(queued) == 1  # the task is queued after commit
    job.refresh_from_db()
    assert (job.status, job.total) == ("pending", 3)

    with django_capture_on_commit_callbacks(execute=True):
        done = coupon_issue_job_run(job_id=job.pk, batch_size=2)
    assert (done.status, done.processed, done.issued) == ("done", 3, 3)
    assert done.progress_percent == 100
    assert set(Coupon.objects.values_list("member", flat=True)) == {m.pk for m in gold}
    assert set(Coupon.objects.values_list("reason", flat=True)) == {"Delivery delay"}
    assert len(mail.outbox) == 3

    # Run twice (a redelivered task): nothing more.
    CouponIssueJob.objects.filter(pk=job.pk).update(status="running")
    again = coupon_issue_job_run(job_id=job.pk)
    assert (again.status, again.issued) == ("done", 3)
    assert Coupon.objects.count() == 3


def test_staff_issue_job_stops_at_the_total_quantity(ladder) -> None:
    template = CouponTemplateFactory(total_quantity=2)
    for _i in range(3):
        MemberFactory()
    job = CouponIssueJob.objects.create(template=template, reason="Promo")
    coupon_issue_job_start(job=job)
    done = coupon_issue_job_run(job_id=job.pk, batch_size=2)
    assert done.status == "failed"
    assert done.error == "The template's total quantity is used up."
    assert Coupon.objects.count() == 2


def test_staff_issue_job_refuses_a_template_whose_window_is_over(ladder) -> None:
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    now = timezone.now()
    template = CouponTemplateFactory(
        valid_days=None, valid_from=now - timedelta(days=9), valid_until=now - timedelta(days=1)
    )
    MemberFactory()
    job = CouponIssueJob(template=template, reason="Late")
    with pytest.raises(ValidationError) as refused:
        job.full_clean()
    assert "template" in refused.value.message_dict  # the admin form shows it beside the field
    job.save()
    done = coupon_issue_job_run(job_id=job.pk)
    assert (done.status, done.error) == ("failed", "The template's validity window is over.")
    assert not Coupon.objects.exists()


def test_staff_issue_job_skips_members_at_the_per_member_limit(ladder) -> None:
    template = CouponTemplateFactory(per_member_limit=1)
    member = MemberFactory()
    first = CouponIssueJob.objects.create(template=template, reason="One")
    coupon_issue_job_run(job_id=first.pk)
    second = CouponIssueJob.objects.create(template=template, reason="Two")
    assert coupon_issue_job_run(job_id=second.pk).issued == 0
    assert Coupon.objects.filter(member=member).count() == 1


def test_admin_creates_a_staff_issue_job(
    client, ladder, django_capture_on_commit_callbacks
) -> None:
    from members.models import Member

    staff = Member.objects.create_superuser(email="boss@example.com", password="pw-123-long-enough")
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    template = CouponTemplateFactory()
    client.force_login(staff)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            "/admin/benefits/couponissuejob/add/",
            {
                "template": template.pk,
                "reason": "Thank you",
                "tiers": [],
                "language": "",
                "member_numbers": "",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = CouponIssueJob.objects.get()
    assert (job.created_by, job.total, job.status) == (staff, 1, "pending")
    assert len(queued) == 1
    page = client.get(f"/admin/benefits/couponissuejob/{job.pk}/change/")
    assert page.status_code == 200
    assert client.get("/admin/benefits/couponissuejob/").status_code == 200
    assert client.get("/admin/benefits/coupontemplate/add/").status_code == 200


def test_template_validation_puts_errors_beside_fields() -> None:
    template = CouponTemplate(
        code="bad", name="Bad", kind="percent_off", value=Decimal("120"), occasion="daily_quota"
    )
    with pytest.raises(Exception) as error:
        template.full_clean(exclude=["eligible_tiers"])
    fields = error.value.message_dict  # type: ignore[attr-defined]
    assert set(fields) >= {"value", "valid_days", "daily_quota"}


def test_presets_load_templates_once(ladder) -> None:
    call_command("load_program", "aliexpress", stdout=None)
    codes = sorted(CouponTemplate.objects.values_list("code", flat=True))
    # points-5-off: the reward shop's coupon (benefits/catalogue_presets.py)
    assert codes == ["anniversary", "birthday", "diamond-daily", "level-up", "points-5-off"]
    birthday = CouponTemplate.objects.get(code="birthday")
    assert sorted(birthday.eligible_tiers.values_list("code", flat=True)) == [
        "diamond",
        "gold",
        "platinum",
        "silver",
    ]
    from benefits.coupons.presets import load

    assert load("aliexpress") == []
    assert load("tmall") == []
    assert CouponTemplate.objects.count() == 5


@pytest.fixture
def staff_client(client):
    from allauth.account.models import EmailAddress

    from members.models import Member

    staff = Member.objects.create_superuser(
        email="admin@example.com", password="pw-123-long-enough"
    )
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    client.force_login(staff)
    return client


def test_admin_template_errors_are_beside_their_fields(staff_client) -> None:
    response = staff_client.post(
        "/admin/benefits/coupontemplate/add/",
        {
            "name": "Too much",
            "code": "too-much",
            "occasion": "daily_quota",
            "active": "on",
            "kind": "percent_off",
            "value": "120",
            "currency": "usd",
            "min_order": "0",
        },
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.errors) >= {"value", "valid_days", "daily_quota", "currency"}
    assert not CouponTemplate.objects.exists()


def test_admin_voids_available_coupons_only(staff_client) -> None:
    from tests.benefits.coupons.factories import CouponFactory

    available = CouponFactory()
    used = CouponFactory(status="redeemed")
    response = staff_client.post(
        "/admin/benefits/coupon/",
        {"action": "void_coupons", "_selected_action": [available.pk, used.pk]},
        follow=True,
    )
    assert "1 coupon(s) voided." in response.content.decode()
    assert dict(Coupon.objects.values_list("pk", "status")) == {
        available.pk: "void",
        used.pk: "redeemed",
    }
