"""Brand of the week (selector, API, dashboard card) and early-access sales (windows, API)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from benefits.engagement.brands import featured_brand_for, week_start
from benefits.engagement.models import FeaturedBrand
from benefits.engagement.sales import sales_open_to
from loyalty.program.models import Program, Tier
from members.models import Member
from tests.benefits.engagement.factories import (
    BrandFactory,
    FeaturedBrandDiscountFactory,
    FeaturedBrandFactory,
    SaleEarlyAccessFactory,
    SaleFactory,
    set_tier,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 16)


@pytest.fixture
def week(ladder: dict[str, Tier]) -> FeaturedBrand:
    featured = FeaturedBrandFactory(
        brand=BrandFactory(code="acme", name="Acme Shoes", categories="Shoes, Bags"),
        week_start=MONDAY,
        headline="New season",
    )
    FeaturedBrandDiscountFactory(featured=featured, tier=ladder["gold"], percent=Decimal("3"))
    FeaturedBrandDiscountFactory(featured=featured, tier=ladder["diamond"], percent=Decimal("7.5"))
    return featured


def test_week_starts_on_monday() -> None:
    assert week_start(date(2026, 11, 16)) == MONDAY
    assert week_start(date(2026, 11, 22)) == MONDAY  # Sunday
    assert week_start(date(2026, 11, 23)) == date(2026, 11, 23)


def test_featured_brand_for_a_date_and_a_tier(week: FeaturedBrand, ladder: dict[str, Tier]) -> None:
    for day in (MONDAY, date(2026, 11, 22)):
        offer = featured_brand_for(day, ladder["diamond"])
        assert offer is not None
        assert offer.brand.name == "Acme Shoes"
        assert offer.discount == Decimal("7.50")
    silver = featured_brand_for(MONDAY, ladder["silver"])
    assert silver is not None and silver.discount is None and silver.tier == ladder["silver"]
    assert featured_brand_for(date(2026, 11, 15), ladder["diamond"]) is None
    assert featured_brand_for(date(2026, 11, 23), ladder["diamond"]) is None


def test_one_featured_brand_per_week(week: FeaturedBrand) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        FeaturedBrandFactory(week_start=MONDAY)
    with pytest.raises(ValidationError) as error:
        FeaturedBrand(brand=week.brand, week_start=date(2026, 11, 17)).full_clean()
    assert error.value.message_dict["week_start"] == ["A week starts on a Monday."]


# --- GET /api/v1/featured-brand/ ------------------------------------------------------------


def test_featured_brand_api_with_an_api_key(api_client: APIClient, week: FeaturedBrand) -> None:
    response = api_client.get("/api/v1/featured-brand/?date=2026-11-20")
    assert response.status_code == 200
    assert response.json() == {
        "week_start": "2026-11-16",
        "week_end": "2026-11-22",
        "headline": "New season",
        "brand": {
            "code": "acme",
            "name": "Acme Shoes",
            "description": "",
            "website": "",
            "categories": ["shoes", "bags"],
        },
        "discounts": [
            {"tier": "gold", "tier_name": "Gold", "percent": "3.00"},
            {"tier": "diamond", "tier_name": "Diamond", "percent": "7.50"},
        ],
        "your_discount": None,
    }


def test_featured_brand_api_for_a_member_gives_their_discount(
    member_client: APIClient, member: Member, week: FeaturedBrand, ladder: dict[str, Tier]
) -> None:
    set_tier(member, ladder["gold"])
    response = member_client.get("/api/v1/featured-brand/?date=2026-11-16")
    assert response.status_code == 200
    assert response.json()["your_discount"] == "3.00"


def test_featured_brand_api_defaults_to_today_in_program_time(
    api_client: APIClient, week: FeaturedBrand
) -> None:
    program = Program.load()
    program.time_zone = "Asia/Shanghai"
    program.save()
    # Sunday 16:30 UTC is already Monday 00:30 in Shanghai: the next week, which has no brand
    sunday = datetime(2026, 11, 22, 16, 30, tzinfo=ZoneInfo("UTC"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: sunday)
        response = api_client.get("/api/v1/featured-brand/")
    assert response.status_code == 404
    assert response.json() == {
        "code": "no_featured_brand",
        "detail": "No brand is featured in the week of 2026-11-23.",
        "fields": {},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: sunday - timedelta(hours=1))
        assert api_client.get("/api/v1/featured-brand/").json()["week_start"] == "2026-11-16"


def test_featured_brand_api_errors(api_client: APIClient, week: FeaturedBrand) -> None:
    bad = api_client.get("/api/v1/featured-brand/?date=20-11-2026")
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "invalid" and list(body["fields"]) == ["date"]
    anonymous = APIClient().get("/api/v1/featured-brand/?date=2026-11-16")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"


# --- Early access ---------------------------------------------------------------------------

PUBLIC = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def sale(ladder: dict[str, Tier]) -> Any:
    sale = SaleFactory(
        title="Winter sale", public_start_at=PUBLIC, ends_at=PUBLIC + timedelta(days=2)
    )
    SaleEarlyAccessFactory(sale=sale, tier=ladder["diamond"], hours=48)
    SaleEarlyAccessFactory(sale=sale, tier=ladder["gold"], hours=24)
    return sale


@pytest.mark.parametrize(
    ("tier", "moment", "open_"),
    [
        ("diamond", PUBLIC - timedelta(hours=48), True),
        ("diamond", PUBLIC - timedelta(hours=48, seconds=1), False),
        ("gold", PUBLIC - timedelta(hours=24), True),
        ("gold", PUBLIC - timedelta(hours=24, seconds=1), False),
        ("gold", PUBLIC - timedelta(hours=47), False),
        ("silver", PUBLIC - timedelta(seconds=1), False),
        ("silver", PUBLIC, True),
        ("diamond", PUBLIC + timedelta(days=2) - timedelta(seconds=1), True),
        ("diamond", PUBLIC + timedelta(days=2), False),
    ],
)
def test_early_access_windows_at_their_edges(
    sale: Any, ladder: dict[str, Tier], tier: str, moment: datetime, open_: bool
) -> None:
    windows = sales_open_to(ladder[tier].pk, moment)
    assert [w.sale.pk for w in windows] == ([sale.pk] if open_ else [])


def test_inactive_sales_are_never_open(sale: Any, ladder: dict[str, Tier]) -> None:
    sale.active = False
    sale.save()
    assert sales_open_to(ladder["diamond"].pk, PUBLIC) == []


def _early_access(client: APIClient, number: str, moment: datetime) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        return client.get(f"/api/v1/members/{number}/early-access/")


def test_early_access_api_lists_what_is_open_to_the_member_now(
    api_client: APIClient, member: Member, sale: Any, ladder: dict[str, Tier]
) -> None:
    set_tier(member, ladder["diamond"])
    SaleFactory(title="Later", public_start_at=PUBLIC + timedelta(days=5))
    moment = PUBLIC - timedelta(hours=48)
    response = _early_access(api_client, member.number, moment)
    assert response.status_code == 200
    assert response.json() == {
        "member": member.number,
        "tier": "diamond",
        "at": "2026-11-29T10:00:00Z",
        "results": [
            {
                "id": sale.pk,
                "title": "Winter sale",
                "brand": None,
                "public_start": "2026-12-01T10:00:00Z",
                "ends_at": "2026-12-03T10:00:00Z",
                "opens_at": "2026-11-29T10:00:00Z",
                "early_access": True,
                "early_hours": 48,
            }
        ],
    }
    late = _early_access(api_client, member.number, moment - timedelta(seconds=1))
    assert late.json()["results"] == []


def test_early_access_api_for_a_base_tier_member_after_the_public_start(
    api_client: APIClient, member: Member, sale: Any
) -> None:
    before = _early_access(api_client, member.number, PUBLIC - timedelta(seconds=1)).json()
    assert before["tier"] == "standard" and before["results"] == []
    after = _early_access(api_client, member.number, PUBLIC).json()
    assert [(r["title"], r["early_access"], r["early_hours"]) for r in after["results"]] == [
        ("Winter sale", False, 0)
    ]


def test_early_access_api_errors(
    api_client: APIClient, member_client: APIClient, member: Member, sale: Any
) -> None:
    missing = api_client.get("/api/v1/members/0000000000/early-access/")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "member_not_found",
        "detail": "No member with this number.",
        "fields": {},
    }
    session = member_client.get(f"/api/v1/members/{member.number}/early-access/")
    assert session.status_code == 403
    assert session.json()["code"] == "permission_denied"


# --- The dashboard cards --------------------------------------------------------------------


def test_dashboard_shows_the_brand_of_the_week_and_early_sales(
    member: Member, ladder: dict[str, Tier]
) -> None:
    now = timezone.now()
    today = now.date()
    featured = FeaturedBrandFactory(
        brand=BrandFactory(name="Acme Shoes"), week_start=week_start(today)
    )
    FeaturedBrandDiscountFactory(featured=featured, tier=ladder["gold"], percent=Decimal("3"))
    early = SaleFactory(title="Early bird", public_start_at=now + timedelta(hours=10))
    SaleEarlyAccessFactory(sale=early, tier=ladder["gold"], hours=24)
    SaleFactory(title="Next week", public_start_at=now + timedelta(days=3))
    set_tier(member, ladder["gold"])
    client = Client()
    client.force_login(member)
    html = client.get("/me/").content.decode()
    assert 'data-testid="featured-brand-name">Acme Shoes<' in html
    assert "3% extra off for your tier this week." in html
    assert "open for you now, 24 hours early" in html
    assert 'data-testid="sale-soon"><strong>Next week</strong>' in html


def test_dashboard_cards_empty_states(member: Member, ladder: dict[str, Tier]) -> None:
    client = Client()
    client.force_login(member)
    html = client.get("/me/").content.decode()
    assert 'data-testid="featured-brand-empty"' in html
    assert 'data-testid="early-access-empty"' in html
    assert 'data-testid="recommendations-empty"' in html


def test_staff_schedule_a_brand_in_the_admin_and_the_dashboard_shows_it_at_once(
    member: Member, ladder: dict[str, Tier]
) -> None:
    brand = BrandFactory(name="Acme Shoes")
    set_tier(member, ladder["gold"])
    web = Client()
    web.force_login(member)
    assert 'data-testid="featured-brand-empty"' in web.get("/me/").content.decode()  # cached
    staff = Client()
    staff.force_login(MemberFactory(is_staff=True, is_superuser=True))
    monday = week_start(timezone.now().date())
    form = {
        "brand": brand.pk,
        "week_start": monday.isoformat(),
        "headline": "",
        "discounts-TOTAL_FORMS": "1",
        "discounts-INITIAL_FORMS": "0",
        "discounts-MIN_NUM_FORMS": "0",
        "discounts-MAX_NUM_FORMS": "1000",
        "discounts-0-tier": ladder["gold"].pk,
        "discounts-0-percent": "4",
    }
    tuesday = dict(form, week_start=(monday + timedelta(days=1)).isoformat())
    refused = staff.post("/admin/benefits/featuredbrand/add/", tuesday)
    assert refused.status_code == 200
    assert "A week starts on a Monday." in refused.content.decode()
    assert not FeaturedBrand.objects.exists()
    response = staff.post("/admin/benefits/featuredbrand/add/", form)
    assert response.status_code == 302
    html = web.get("/me/").content.decode()
    assert 'data-testid="featured-brand-name">Acme Shoes<' in html
    assert "4% extra off for your tier this week." in html
