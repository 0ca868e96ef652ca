"""The dashboard's cards are cached per member (portal/views.py) and keyed on versions that
database triggers bump (portal/page_versions.py). Every family of writes that changes what
the dashboard shows is made here between two views, and the second view must show it: a
write path (or a table) that the triggers missed fails its test.

`changes()` views the dashboard twice first (the second view is a cache hit), makes the write,
views it again and compares the member's cards (the <main> element; the header's unread count
is outside the cache and is compared apart where it is what changed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from benefits.catalogue.models import Benefit, Reward, TierBenefit
from benefits.catalogue.rewards import reward_exchange
from benefits.coupons.models import Coupon, CouponIssueJob, Occasion
from benefits.coupons.services import (
    coupon_issue_job_run,
    coupon_issue_job_start,
    coupons_expire,
    daily_coupon_claim,
    issue_occasion_coupons,
    levelup_reward_issue,
)
from benefits.engagement.brands import week_start
from benefits.engagement.events import event_rsvp
from core.cache import Scope, forget
from core.clock import program_today
from loyalty.ledger.models import Account, PointLot
from loyalty.ledger.services import (
    account_open,
    points_adjust,
    points_award,
    points_expire_due,
    points_redeem,
    points_reverse,
)
from loyalty.program.models import EarningRule, Program, Tier
from loyalty.tiers.services import tier_floor_set, tier_instant_upgrade, tiers_recalculate
from members.models import Member
from members.services import member_update_profile
from portal.models import Notice, PageVersion
from portal.notices import notices_mark_read
from portal.page_versions import (
    GLOBAL_KEY,
    GLOBAL_TABLES,
    MANY_MEMBERS,
    MEMBER_TABLES,
    SCOPE_TABLES,
    installed_triggers,
    uninstall,
)
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.benefits.engagement.factories import (
    BrandFactory,
    FeaturedBrandFactory,
    MemberEventFactory,
    SaleFactory,
)
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]


def main(client: Client) -> str:
    response = client.get("/me/")
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


@pytest.fixture
def client(member: Member) -> Client:
    account_open(member_id=member.pk)
    client = Client()
    client.force_login(member)
    return client


@contextmanager
def changes(client: Client, *shown: str) -> Iterator[None]:
    before = main(client)
    assert main(client) == before  # a cache hit, the same page
    yield
    after = main(client)
    assert after == fresh(client), "the cached dashboard is not what a fresh render shows"
    assert after != before, "the dashboard did not change after the write"
    for text in shown:
        assert text in after, text


def fresh(client: Client) -> str:
    """The dashboard rendered with every cache emptied (the session lives there too)."""
    member = Member.objects.get(pk=client.session["_auth_user_id"])
    cache.clear()
    forget()
    client.force_login(member)
    return main(client)


def version(member: Member | int) -> int:
    scope = member.pk if isinstance(member, Member) else member
    row = PageVersion.objects.filter(scope=scope).first()
    return row.version if row is not None else 0


def test_every_table_the_dashboard_reads_has_its_triggers() -> None:
    found = installed_triggers(connection)
    for table, _column in MEMBER_TABLES:
        assert found.get(table), table
        assert "portal_bump_member_version_on_insert" in found[table], table
    for table in GLOBAL_TABLES:
        assert found.get(table), table
        assert "portal_bump_program_version_on_write" in found[table], table
    for scope, tables in SCOPE_TABLES.items():
        for table in tables:
            assert f"portal_bump_{Scope(scope).name.lower()}_version_on_write" in found[table]


def test_without_the_triggers_the_cached_dashboard_would_be_stale(
    client: Client, member: Member
) -> None:
    """The cache is really in use: with the triggers gone, a write is not seen (so each test
    below would fail if its write path were not covered)."""
    before = main(client)
    uninstall(connection)  # inside the test's transaction: rolled back afterwards
    points_award(member_id=member.pk, points=40, reason="Order SO-9")
    assert main(client) == before


def test_first_view_of_the_day_shows_the_visit_point(client: Client, member: Member) -> None:
    page = main(client)
    visit = EarningRule.objects.get(kind="visit").points
    assert f'data-testid="dashboard-points">{visit}<' in page
    assert "your visit on" in page


# --- points -------------------------------------------------------------------------------


def test_points_event_single(client: Client, member: Member, api_client: Any) -> None:
    body = {
        "id": "e1",
        "type": "order.received",
        "member": member.number,
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "order": {"number": "SO-1042", "amount": "12.50", "currency": "USD"},
    }
    with changes(client, "5 points for order SO-1042"):
        assert api_client.post("/api/v1/events/", body, format="json").status_code == 201


def test_points_events_batch(client: Client, member: Member, api_client: Any) -> None:
    events = [
        {
            "id": f"b{n}",
            "type": "order.received",
            "member": member.number,
            "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
            "order": {"number": f"SO-7{n}", "amount": "12.50", "currency": "USD"},
        }
        for n in range(2)
    ]
    with changes(client, "order SO-7"):
        response = api_client.post("/api/v1/events/batch/", {"events": events}, format="json")
        assert response.status_code == 200


def test_redemption_adjustment_and_reversal(client: Client, member: Member) -> None:
    earned = points_award(member_id=member.pk, points=100, reason="Order SO-1")
    with changes(client, "Paid with points"):
        points_redeem(member_id=member.pk, points=30, reason="Paid with points")
    with changes(client, "Goodwill"):
        points_adjust(member_id=member.pk, points=7, reason="Goodwill", created_by_id=None)
    with changes(client, "Returned SO-1"):
        points_reverse(entry_id=earned.pk, points=10, reason="Returned SO-1")


def test_points_expiry_job(client: Client, member: Member) -> None:
    points_award(member_id=member.pk, points=50, reason="Order SO-2")
    PointLot.objects.filter(member=member).update(expires_on=program_today())
    with changes(client):
        assert points_expire_due(today=program_today()) == 1


# --- coupons ------------------------------------------------------------------------------


def _silver(member: Member) -> Tier:
    silver = Tier.objects.get(code="silver")
    Account.objects.filter(member=member).update(tier=silver)
    return silver


def test_coupons_issued_by_the_occasion_job(client: Client, member: Member) -> None:
    today = program_today()
    member_update_profile(member=member, birthday=date(1990, today.month, min(today.day, 28)))
    Member.objects.filter(pk=member.pk).update(birthday_set_on=date(2020, 1, 1))
    _silver(member)  # the preset's birthday coupon is for silver and up
    with changes(client, "Coupon issued: Birthday coupon"):
        assert issue_occasion_coupons(day=today).birthday == 1


def test_coupons_issued_by_staff_job_daily_claim_and_level_up(
    client: Client, member: Member
) -> None:
    silver = _silver(member)
    job = CouponIssueJob.objects.create(
        template=CouponTemplateFactory(name="Delivery delay"), reason="Sorry"
    )
    job.tiers.set([silver])
    coupon_issue_job_start(job=job)
    with changes(client, "Coupon issued: Delivery delay"):
        assert coupon_issue_job_run(job_id=job.pk).issued == 1
    daily = CouponTemplateFactory(name="Daily deal", occasion=Occasion.DAILY_QUOTA, daily_quota=5)
    with changes(client, "Coupon issued: Daily deal"):
        daily_coupon_claim(member=member, template_id=daily.pk)
    CouponTemplateFactory(name="Welcome to Silver", occasion=Occasion.LEVEL_UP, tiers=[silver])
    with changes(client):
        levelup_reward_issue(
            member_id=member.pk, tier_id=silver.pk, period=program_today().replace(day=1)
        )


def test_coupon_redemption_release_and_expiry(
    client: Client, member: Member, api_client: Any
) -> None:
    coupon = CouponFactory(
        member=member,
        template=CouponTemplateFactory(name="Ending soon"),
        valid_until=timezone.now() + timedelta(days=2),
    )
    body = {
        "id": "req-1",
        "code": coupon.code,
        "member": member.number,
        "order_number": "SO-1",
        "order_amount": "25.00",
    }
    with changes(client):
        assert api_client.post("/api/v1/coupons/redeem/", body, format="json").status_code in (
            200,
            201,
        )
    assert "Ending soon (" not in main(client)
    release = {"id": "req-2", "code": coupon.code, "order_number": "SO-1"}
    with changes(client, "Ending soon ("):
        assert api_client.post("/api/v1/coupons/release/", release, format="json").status_code in (
            200,
            201,
        )
    # The expiry job: a past-due coupon was already shown as gone, so only the version moves.
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(hours=1))
    moved = version(member)
    assert coupons_expire() == 1
    assert version(member) > moved


# --- notices ------------------------------------------------------------------------------


def test_notices_and_read_marks_show_in_the_unread_count(client: Client, member: Member) -> None:
    def unread() -> str:
        page = client.get("/me/").content.decode()
        return page[page.index('data-testid="header-inbox"') :].split("</a>", 1)[0]

    assert "count" not in unread()
    Notice.objects.create(member=member, kind="points_expiring", key="lot:1", params={})
    assert '<span class="count">1' in unread()
    moved = version(member)
    notices_mark_read(member_id=member.pk)
    assert "count" not in unread()
    assert version(member) > moved


# --- tiers --------------------------------------------------------------------------------


def test_tier_job_instant_upgrade_and_floor(client: Client, member: Member) -> None:
    gold = Tier.objects.get(code="gold")
    points_award(member_id=member.pk, points=gold.min_points, reason="Big order")
    with changes(client, f'data-testid="tier-badge">{gold.name}<'):
        tiers_recalculate(as_of=program_today())
    platinum = Tier.objects.get(code="platinum")
    program = Program.load()
    program.instant_upgrade = True
    program.save()
    points_award(member_id=member.pk, points=platinum.min_points, reason="Bigger order")
    with changes(client, f'data-testid="tier-badge">{platinum.name}<'):
        tier_instant_upgrade(member_id=member.pk)
    diamond = Tier.objects.get(code="diamond")
    with changes(client, f'data-testid="tier-badge">{diamond.name}<'):  # a floor raises at once
        tier_floor_set(
            member_id=member.pk,
            tier_id=diamond.pk,
            until=program_today() + timedelta(days=90),
            reason="VIP",
            created_by_id=member.pk,
        )


# --- rewards, events, profile ---------------------------------------------------------------


def test_reward_exchange(client: Client, member: Member) -> None:
    points_award(member_id=member.pk, points=500, reason="Order SO-3")
    reward = Reward.objects.create(name="Tote bag", kind="merchandise", points=300, stock=2)
    with changes(client, "Tote bag"):
        reward_exchange(member=member, reward_id=reward.pk)


def test_a_reward_running_out_of_stock_leaves_the_recommendations(
    client: Client, member: Member
) -> None:
    points_award(member_id=member.pk, points=500, reason="Order SO-4")
    reward = Reward.objects.create(name="Last scarf", kind="merchandise", points=300, stock=2)
    assert "Last scarf" in main(client)
    other = MemberFactory()
    points_award(member_id=other.pk, points=600, reason="Order SO-5")
    moved = version(GLOBAL_KEY)
    reward_exchange(member=other, reward_id=reward.pk)  # 2 -> 1: nothing shown changes
    assert version(GLOBAL_KEY) == moved
    with changes(client):
        reward_exchange(member=other, reward_id=reward.pk)  # 1 -> 0: out of stock
    assert "Last scarf" not in main(client)


def test_event_rsvp_moves_the_version(client: Client, member: Member) -> None:
    event = MemberEventFactory(title="Store opening", published=True)
    assert "Store opening" in main(client)
    moved = version(member)
    event_rsvp(event_id=event.pk, member=member)
    assert version(member) > moved


def test_profile_birthday_and_language(client: Client, member: Member) -> None:
    with changes(client, "Hello, Ada Lovelace"):
        member_update_profile(member=member, name="Ada Lovelace")
    assert "add your birthday" in main(client)
    with changes(client):
        member_update_profile(member=member, birthday=date(1990, 5, 17))
    assert "add your birthday" not in main(client)
    member_update_profile(member=member, language="zh-hans")
    client.cookies["django_language"] = "zh-hans"
    assert "你好" in main(client) or "会员" in main(client)


# --- program-wide data (the admin) -------------------------------------------------------------


def test_admin_edits_of_program_tiers_rules_benefits_brand_and_sales(
    client: Client, member: Member
) -> None:
    base = Tier.objects.get(min_points=0)
    with changes(client, "Bronze"):
        base.name = "Bronze"
        base.save()
    # Rules, program settings and benefits are not on the dashboard (the tier card's forecast
    # reads the program's window): each moves the program's version.
    for write in (
        lambda: EarningRule.objects.filter(kind="visit").update(points=F("points") + 1),
        lambda: Program.objects.filter(pk=1).update(qualifying_window_months=6),
        lambda: Benefit.objects.create(code="lounge", name="Lounge", kind="perk"),
        lambda: TierBenefit.objects.create(tier=base, benefit=Benefit.objects.get(code="lounge")),
        lambda: Tier.objects.filter(pk=base.pk).update(discount_percent=Decimal("1.5")),
    ):
        moved = version(GLOBAL_KEY)
        write()
        assert version(GLOBAL_KEY) > moved
        assert main(client) == fresh(client)
    brand = BrandFactory(name="Acme Outdoor")
    with changes(client, "Acme Outdoor"):
        FeaturedBrandFactory(brand=brand, week_start=week_start(program_today()))
    with changes(client, "Winter sale"):
        SaleFactory(title="Winter sale", public_start_at=timezone.now() - timedelta(hours=1))


# --- time -----------------------------------------------------------------------------------


def test_the_day_changing_and_a_coupon_entering_the_week(
    client: Client, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    CouponFactory(
        member=member,
        template=CouponTemplateFactory(name="Next week"),
        valid_until=now + timedelta(days=7, hours=12),
    )
    page = main(client)
    assert "Next week (" not in page
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(days=1))
    assert "Next week (" in main(client)


def test_a_sale_opening_within_the_day(
    client: Client, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    SaleFactory(title="Flash sale", public_start_at=now + timedelta(minutes=30))
    page = main(client)
    assert 'data-testid="sale-soon"' in page
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=31))
    assert 'data-testid="sale-open"' in main(client)


def test_a_statement_over_many_members_bumps_the_program_version_once() -> None:
    """PostgreSQL: the set-based jobs' big statements cost one row, not a row per member."""
    moved = version(GLOBAL_KEY)
    Member.objects.bulk_create(
        [Member(email=f"bulk{n}@example.com", number=f"7{n:09d}") for n in range(MANY_MEMBERS + 1)]
    )
    bumped = version(GLOBAL_KEY)
    assert bumped > moved
    assert not PageVersion.objects.filter(scope__in=Member.objects.values("pk")).exists()
    few = Member.objects.order_by("pk")[:3]
    Member.objects.filter(pk__in=[m.pk for m in few]).update(name="Renamed")
    assert version(GLOBAL_KEY) == bumped
    assert PageVersion.objects.filter(scope__in=[m.pk for m in few]).count() == 3


def test_versions_never_repeat_after_the_database_is_recreated(member: Member) -> None:
    """Versions are the clock (microseconds), at least one more than the last: a database
    recreated under a live cache starts above every number it used before."""
    first = version(member)
    PageVersion.objects.filter(scope=member.pk).delete()  # as in a recreated database
    time.sleep(0.002)  # versions are the clock: let it move on
    member_update_profile(member=member, name="Again")
    assert version(member) > first


def _received(member: Member, key: str, number: str) -> Any:
    from loyalty.earning import OrderReceived

    return OrderReceived(
        key=key,
        member_number=member.number,
        occurred_at=timezone.now() - timedelta(minutes=5),
        number=number,
        amount=Decimal("12.50"),
        currency="USD",
        categories=("shoes",),
        digest=key,
    )


def _deferred() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('members.pv_deferred', true)")
        return cursor.fetchone()[0]  # type: ignore[no-any-return]


def test_an_event_bumps_its_member_and_leaves_the_triggers_on(member: Member) -> None:
    """The engine's write (loyalty_earning_write) writes the member's rows with the member
    triggers deferred (portal.page_versions.PG_DEFERRED_SETTING) and bumps the member once at
    the end; the setting never outlives the write, whether it succeeds or is refused."""
    from django.db import IntegrityError, transaction

    from loyalty.earning import events_apply, store
    from loyalty.earning.planner import OrderRow, Plan
    from members.services import api_key_create

    key = api_key_create(name="t")[0]
    before = version(member)
    events_apply(api_key=key, events=[_received(member, "e1", "SO-1")])
    after = version(member)
    assert after > before
    assert _deferred() in (None, "")
    points_award(member_id=member.pk, points=1, reason="later in the same transaction")
    assert version(member) > after
    # a write the database refuses (the order number is taken) after switching them off
    taken = Plan(
        orders=[
            OrderRow(
                number="SO-1",
                member_id=member.pk,
                amount=Decimal("1.00"),
                currency="USD",
                categories=[],
                received_at=timezone.now(),
            )
        ]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        store.plan_write(taken, api_key_id=key.pk)
    assert _deferred() in (None, "")
    refused = version(member)
    points_award(member_id=member.pk, points=1, reason="after a refusal")
    assert version(member) > refused


def test_a_batch_write_bumps_its_members_and_leaves_the_triggers_on(member: Member) -> None:
    """A run of events writes its rows in one statement with the member triggers deferred and
    bumps the run's members once after it; later writes still bump."""
    from loyalty.earning import events_apply
    from members.services import api_key_create

    other = MemberFactory()
    account_open(member_id=other.pk)
    key = api_key_create(name="t")[0]
    before = {m.pk: version(m) for m in (member, other)}
    events = [_received(m, f"b{n}", f"SO-B{n}") for n, m in enumerate((member, other))]
    assert all(r.created for r in events_apply(api_key=key, events=events))  # type: ignore[union-attr]
    after = {m.pk: version(m) for m in (member, other)}
    assert all(after[pk] > before[pk] for pk in before)
    assert _deferred() in (None, "")
    points_award(member_id=other.pk, points=1, reason="later in the same transaction")
    assert version(other) > after[other.pk]
