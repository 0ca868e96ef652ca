"""The member inbox: notices written by the outbox's subscribers after the coupon, tier and
expiry code commits, emails in the member's language, unread counts and mark-as-read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client

from benefits.coupons.models import Occasion
from benefits.coupons.services import levelup_reward_issue
from loyalty.ledger.models import PointLot
from loyalty.ledger.services import points_award, points_expiring_announce
from loyalty.ledger.tasks import announce_expiring_points
from loyalty.program.models import Tier
from loyalty.tiers.services import tiers_recalculate
from portal.models import Notice
from portal.notices import notices_mark_read
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]
UTC = ZoneInfo("UTC")


def web(member: Any) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_coupon_issued_writes_one_notice_after_commit(
    member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from loyalty.program.models import Tier

    gold = Tier.objects.get(code="gold")
    CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Gold welcome")
    with django_capture_on_commit_callbacks(execute=True):
        coupon = levelup_reward_issue(
            member_id=member.pk, tier_id=gold.pk, period=date(2026, 10, 1)
        )
    assert coupon is not None
    notice = Notice.objects.get(member=member)
    assert (notice.kind, notice.key, notice.link) == (
        "coupon_issued",
        f"coupon:{coupon.pk}",
        "/me/coupons/",
    )
    assert notice.params["code"] == coupon.code and notice.params["name"] == coupon.template.name
    assert notice.read_at is None
    # the coupon's own email went out; the notice adds no second one
    assert len(mail.outbox) == 1
    # a second call writes nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            levelup_reward_issue(member_id=member.pk, tier_id=gold.pk, period=date(2026, 10, 1))
            is None
        )
    assert Notice.objects.count() == 1


def test_tier_change_notice_and_email_in_the_members_language(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.celery import app
    from loyalty.ledger.services import account_open

    # The job queues the notices as a Celery task after the chunk commits (run here eagerly).
    monkeypatch.setattr(app.conf, "task_always_eager", True)

    member = MemberFactory(language="zh-hans")
    account_open(member_id=member.pk)
    earn(member, 150, datetime(2026, 10, 15, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        tiers_recalculate(as_of=date(2026, 10, 31))
    notice = Notice.objects.get(member=member, kind="tier_changed")
    gold = Tier.objects.get(code="gold")
    assert notice.key == f"tier:2026-10-01:evaluation:{gold.pk}"
    assert notice.params == {
        "from": "Standard",
        "to": "Gold",
        "direction": "up",
        "effective_on": "2026-11-01",
    }
    # (the level-up reward's task ran too: its coupon email is not the tier notice's)
    emails = [m for m in mail.outbox if m.to == [member.email] and "/me/tier/" in m.body]
    assert len(emails) == 1
    assert "黄金会员" in emails[0].body and "普通会员" in emails[0].body  # preset names translated
    assert "http://127.0.0.1:8000/me/tier/" in emails[0].body  # absolute (SITE_URL)
    # a rerun of the finished period adds nothing
    with django_capture_on_commit_callbacks(execute=True):
        tiers_recalculate(as_of=date(2026, 10, 31))
    assert Notice.objects.filter(member=member, kind="tier_changed").count() == 1
    assert len([m for m in mail.outbox if m.to == [member.email] and "/me/tier/" in m.body]) == 1


def test_expiring_points_notice_once_per_lot(
    member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    soon = points_award(member_id=member.pk, points=7, reason="old order")
    later = points_award(member_id=member.pk, points=3, reason="new order")
    PointLot.objects.filter(entry=soon).update(expires_on=date(2026, 12, 1))
    PointLot.objects.filter(entry=later).update(expires_on=date(2027, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):  # the outbox's dispatch after it
        assert points_expiring_announce(today=date(2026, 11, 10)) == 1
    notice = Notice.objects.get()
    lot = PointLot.objects.get(entry=soon)
    assert (notice.kind, notice.key, notice.params) == (
        "points_expiring",
        f"lot:{lot.pk}",
        {"points": 7, "on": "2026-12-01"},
    )
    assert len(mail.outbox) == 1
    assert "7 points expire on" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        assert announce_expiring_points("2026-11-11") == 0  # the same lot: nothing new
    assert Notice.objects.count() == 1
    assert len(mail.outbox) == 1


def test_inbox_page_unread_count_and_mark_read(member: Any) -> None:
    for n in range(3):
        Notice.objects.create(
            member=member,
            kind="points_expiring",
            key=f"lot:{n}",
            params={"points": n + 1, "on": "2026-12-01"},
            link="/me/points/",
        )
    other = MemberFactory()
    Notice.objects.create(member=other, kind="points_expiring", key="lot:9", params={})
    client = web(member)
    html = client.get("/me/inbox/").content.decode()
    assert html.count('data-testid="notice"') == 3
    assert 'data-testid="nav-unread">3<' in html
    assert "2 points expire on" in html
    first = Notice.objects.filter(member=member).order_by("pk").first()
    assert first is not None
    response = client.post("/me/inbox/read/", {"notice": first.pk})
    assert response.status_code == 302
    assert Notice.objects.filter(member=member, read_at__isnull=True).count() == 2
    # another member's notice cannot be marked through this member's session
    client.post("/me/inbox/read/", {"notice": Notice.objects.get(member=other).pk})
    assert Notice.objects.get(member=other).read_at is None
    client.post("/me/inbox/read/")
    assert Notice.objects.filter(member=member, read_at__isnull=True).count() == 0
    assert notices_mark_read(member_id=member.pk) == 0
    html = client.get("/me/inbox/").content.decode()
    assert 'data-testid="nav-unread"' not in html


def test_inbox_empty_state_and_login_required(member: Any) -> None:
    assert Client().get("/me/inbox/").status_code == 302
    assert Client().post("/me/inbox/read/").status_code == 302
    html = web(member).get("/me/inbox/").content.decode()
    assert 'data-testid="inbox-empty"' in html


def test_beat_runs_the_expiry_notices() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["loyalty-announce-expiring-points"]
    assert entry["task"] == "loyalty.announce_expiring_points"


def test_unread_notice_count_ignores_read_ones(member: Any) -> None:
    from django.utils import timezone

    from portal.selectors import member_status

    Notice.objects.create(member=member, kind="tier_changed", key="tier:a", params={})
    Notice.objects.create(
        member=member, kind="tier_changed", key="tier:b", params={}, read_at=timezone.now()
    )
    status = member_status(member)
    assert (status.email_verified, status.unread_notices) == (True, 1)


def test_an_instant_upgrade_and_an_evaluation_of_the_same_period_each_get_a_notice() -> None:
    from django.utils import timezone

    from core import outbox
    from loyalty.ledger.services import account_open
    from loyalty.tiers.models import TierChange
    from loyalty.tiers.services import tier_changes_announce

    member = MemberFactory()
    account_open(member_id=member.pk)  # changes are written for members with an account
    tiers = {t.code: t for t in Tier.objects.all()}
    day = date(2026, 11, 1)
    common = {
        "member": member,
        "period": day,
        "qualifying_points": 120,
        "effective_on": day,
        "created_at": timezone.now(),
    }
    TierChange.objects.create(
        **common, kind="instant", from_tier=tiers["silver"], to_tier=tiers["gold"], direction="up"
    )
    TierChange.objects.create(
        **common,
        kind="evaluation",
        from_tier=tiers["gold"],
        to_tier=tiers["silver"],
        direction="down",
    )
    with transaction.atomic():
        assert tier_changes_announce(TierChange.objects.filter(period=day)) == 2
    outbox.dispatch()
    assert Notice.objects.filter(member=member, kind="tier_changed").count() == 2
    tier_notices = Notice.objects.filter(member=member, kind="tier_changed")
    assert sorted(tier_notices.values_list("params__to", flat=True)) == [
        "Gold",
        "Silver",
    ]
