"""The benefit catalogue: the preset matrix, /me/benefits/ per tier, the admin matrix, the
benefits and fast-refund API."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from benefits.catalogue.benefits import BenefitLine, benefit_matrix
from benefits.catalogue.models import Benefit, TierBenefit
from benefits.engagement.showcase import showcase
from core.cache import forget
from loyalty.ledger.models import Account
from loyalty.program.models import Tier
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EXPECTED = {  # DOMAIN.md "Benefits by tier": the codes each tier gets
    "standard": set(),
    "silver": {
        "level-discount",
        "birthday-coupon",
        "anniversary-coupon",
        "level-up-reward",
        "brand-of-the-week",
        "priority-service",
        "early-access",
    },
}
EXPECTED["gold"] = EXPECTED["silver"] | {
    "member-prices",
    "faster-shipping",
    "recommendations",
    "event-invitations",
}
EXPECTED["platinum"] = EXPECTED["gold"] | {"exclusive-events", "fast-refunds"}
EXPECTED["diamond"] = EXPECTED["platinum"] | {
    "vip-service",
    "product-previews",
    "partner-events",
    "daily-coupons",
}


def load(preset: str = "aliexpress") -> str:
    out = StringIO()
    call_command("load_program", preset, stdout=out)
    return out.getvalue()


def in_tier(member: Member, code: str) -> Member:
    Account.objects.update_or_create(member=member, defaults={"tier": Tier.objects.get(code=code)})
    return member


def test_preset_fills_the_matrix_and_is_idempotent() -> None:
    output = load()
    assert "benefit level-discount" in output and "reward Member tote bag" in output
    assert Benefit.objects.count() == 17
    # 15 benefits have cells (level discount and fast refunds are the Tier rows'), 5 tiers each
    assert TierBenefit.objects.count() == 15 * 5
    matrix = benefit_matrix()
    for tier in matrix.tiers:
        got = {line.benefit.code for line in matrix.for_tier(tier) if line.included}
        assert got == EXPECTED[tier.code], tier.code
    hours = {
        t.code: line.hours
        for t in matrix.tiers
        for line in matrix.for_tier(t)
        if line.benefit.code == "early-access"
    }
    assert hours == {"standard": None, "silver": 12, "gold": 24, "platinum": 36, "diamond": 48}
    TierBenefit.objects.filter(benefit__code="vip-service", tier__code="gold").update(included=True)
    assert "everything was already loaded" in load()
    assert TierBenefit.objects.get(benefit__code="vip-service", tier__code="gold").included


def test_tmall_preset_has_no_platinum_column() -> None:
    load("tmall")
    matrix = benefit_matrix()
    assert [t.code for t in matrix.tiers] == ["standard", "silver", "gold", "diamond"]
    assert TierBenefit.objects.count() == 15 * 4
    diamond = Tier.objects.get(code="diamond")
    assert {line.benefit.code for line in matrix.for_tier(diamond) if line.included} == (
        EXPECTED["diamond"]
    )


@pytest.mark.parametrize("code", ["standard", "silver", "gold", "platinum", "diamond"])
def test_the_benefits_page_shows_each_tier_its_own_benefits(client: Client, code: str) -> None:
    load()
    member = in_tier(MemberFactory(), code)
    client.force_login(member)
    page = client.get("/me/benefits/").content.decode()
    shown = {b.code for b in Benefit.objects.all() if f'data-testid="benefit-{b.code}"' in page}
    assert shown == EXPECTED[code]
    numbers = {
        "silver": ["5% off products marked Member price at checkout", "12 hours before"],
        "gold": ["8% off products marked Member price at checkout", "24 hours before"],
        "platinum": ["10% off products", "on orders up to 24.00 USD", "36 hours before"],
        "diamond": ["15% off products", "on orders up to 100.00 USD", "48 hours before"],
    }
    for text in numbers.get(code, []):
        assert text in page
    if code == "standard":
        assert "Your tier has no benefits yet. Reach Silver with 1 qualifying points" in page


def test_the_comparison_highlights_the_current_and_next_tier(client: Client) -> None:
    load()
    client.force_login(in_tier(MemberFactory(), "gold"))
    page = client.get("/me/benefits/").content.decode()
    assert 'class="current" aria-current="true">Gold' in page
    assert 'class="next">Platinum' in page
    assert page.count('class="current"') == 1 and page.count('class="next"') == 1
    assert "<td>8%</td>" in page and "<td>24.00 USD</td>" in page and "<td>48 h</td>" in page
    assert "Next: Platinum from 501 qualifying points." in page


def test_a_member_without_an_account_sees_the_base_tier(client: Client) -> None:
    load()
    member = MemberFactory()
    Account.objects.filter(member=member).delete()
    client.force_login(member)
    page = client.get("/me/benefits/").content.decode()
    assert "Standard member" in page
    assert 'class="next">Silver' in page


def test_benefits_page_empty_catalogue(client: Client, member: Member) -> None:
    client.force_login(member)
    page = client.get("/me/benefits/").content.decode()
    assert "No tier yet" in page
    assert "The benefits of each tier will be listed here." in page


def test_benefits_page_runs_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries
) -> None:
    load()
    member = in_tier(MemberFactory(), "gold")
    client.force_login(member)
    showcase()  # the brand-of-the-week snapshot, shared by every member (rebuilt once a minute)
    forget()  # this process reads the versions and the program settings again
    with django_assert_max_num_queries(8) as few:
        client.get("/me/benefits/")
    for i in range(10):
        Benefit.objects.create(code=f"extra-{i}", name=f"Extra {i}", kind="vip_service")
    forget()  # this process reads the versions and the program settings again
    with django_assert_max_num_queries(8) as many:
        page = client.get("/me/benefits/").content.decode()
    assert "Extra 9" in page
    assert len(many.captured_queries) == len(few.captured_queries)


def test_nav_links_benefits_and_rewards(client: Client, member: Member) -> None:
    client.force_login(member)
    page = client.get("/me/").content.decode()
    assert 'href="/me/benefits/"' in page and 'href="/me/rewards/"' in page


def test_benefits_page_requires_login(client: Client) -> None:
    response = client.get("/me/benefits/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- the admin's matrix ---------------------------------------------------------------------


def test_admin_edits_the_matrix_in_one_table(admin_client: Client) -> None:
    load()
    gold = Tier.objects.get(code="gold")
    early = Benefit.objects.get(code="early-access")
    vip = Benefit.objects.get(code="vip-service")
    page = admin_client.get("/admin/benefits/benefit/matrix/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    data[f"discount-{gold.pk}"] = "9"
    data[f"refund-{gold.pk}"] = "12.50"
    data[f"cell-{gold.pk}-{vip.pk}"] = "on"
    data[f"hours-{gold.pk}-{early.pk}"] = "30"
    response = admin_client.post("/admin/benefits/benefit/matrix/", data)
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.discount_percent == Decimal("9.00")
    assert gold.fast_refund_limit == Decimal("12.50")
    assert TierBenefit.objects.get(tier=gold, benefit=vip).included
    assert TierBenefit.objects.get(tier=gold, benefit=early).hours == 30
    assert (
        TierBenefit.objects.filter(included=True).count() == 42 + 1
    )  # 6 silver, 10 gold, 11 platinum, 15 diamond; + vip for gold
    assert (
        "Edit the tier × benefit matrix"
        in admin_client.get("/admin/benefits/benefit/").content.decode()
    )


def test_admin_matrix_errors_beside_their_cells(admin_client: Client) -> None:
    load()
    gold = Tier.objects.get(code="gold")
    early = Benefit.objects.get(code="early-access")
    before = list(TierBenefit.objects.order_by("pk").values_list("included", "hours"))
    data = {f"discount-{t.pk}": "5" for t in Tier.objects.all()}
    data[f"discount-{gold.pk}"] = "150"
    data[f"cell-{gold.pk}-{early.pk}"] = "on"
    response = admin_client.post("/admin/benefits/benefit/matrix/", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors[f"discount-{gold.pk}"] == ["Ensure this value is less than or equal to 100."]
    assert form.errors[f"hours-{gold.pk}-{early.pk}"] == ["Give the hours of early access."]
    assert "Give the hours of early access." in response.content.decode()
    assert list(TierBenefit.objects.order_by("pk").values_list("included", "hours")) == before
    assert Tier.objects.get(code="gold").discount_percent == Decimal("8.00")


# --- the API ----------------------------------------------------------------------------------


def test_api_member_benefits(api_client: APIClient) -> None:
    load()
    member = in_tier(MemberFactory(), "platinum")
    response = api_client.get(f"/api/v1/members/{member.number}/benefits/")
    assert response.status_code == 200
    body = response.json()
    assert body["member"] == member.number
    assert body["tier"] == {"code": "platinum", "name": "Platinum"}
    assert body["discount_percent"] == "10.00"
    assert body["fast_refund_limit"] == "24.00"
    assert body["currency"] == "USD"
    assert len(body["benefits"]) == 17
    assert {code for code, b in body["benefits"].items() if b["included"]} == EXPECTED["platinum"]
    assert body["benefits"]["level-discount"] == {
        "name": "Level discount",
        "kind": "level_discount",
        "included": True,
        "applies": "10% off products marked Member price at checkout",
        "percent": "10.00",
        "limit": None,
        "hours": None,
    }
    assert body["benefits"]["early-access"]["hours"] == 36
    assert body["benefits"]["vip-service"] == {
        "name": "VIP customer service",
        "kind": "vip_service",
        "included": False,
        "applies": "",
        "percent": None,
        "limit": None,
        "hours": None,
    }


def test_api_member_benefits_of_the_base_tier(api_client: APIClient) -> None:
    load()
    member = MemberFactory()
    body = api_client.get(f"/api/v1/members/{member.number}/benefits/").json()
    assert body["tier"] == {"code": "standard", "name": "Standard"}
    assert body["discount_percent"] == "0.00"
    assert body["fast_refund_limit"] is None
    assert not any(b["included"] for b in body["benefits"].values())


def test_api_benefits_errors(api_client: APIClient, member_client: APIClient, member) -> None:
    response = api_client.get("/api/v1/members/0000000000/benefits/")
    assert response.status_code == 404
    assert response.json() == {
        "code": "member_not_found",
        "detail": "No member with this number.",
        "fields": {},
    }
    anonymous = APIClient().get(f"/api/v1/members/{member.number}/benefits/")
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["code"] in ("not_authenticated", "authentication_failed")
    as_member = member_client.get(f"/api/v1/members/{member.number}/benefits/")
    assert as_member.status_code == 403
    assert as_member.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("tier", "amount", "qualifies", "code", "limit"),
    [
        ("platinum", "24.00", True, "qualifies", "24.00"),
        ("platinum", "24.01", False, "over_limit", "24.00"),
        ("diamond", "99.99", True, "qualifies", "100.00"),
        ("gold", "5.00", False, "not_in_tier", None),
    ],
)
def test_api_fast_refund(
    api_client: APIClient, tier: str, amount: str, qualifies: bool, code: str, limit: str | None
) -> None:
    load()
    member = in_tier(MemberFactory(), tier)
    response = api_client.post(
        f"/api/v1/members/{member.number}/fast-refund/",
        {"order_number": "SO-1", "order_amount": amount},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["member"] == member.number
    assert body["order_number"] == "SO-1" and body["order_amount"] == amount
    assert body["qualifies"] is qualifies and body["code"] == code and body["limit"] == limit
    assert body["currency"] == "USD" and body["tier"]["code"] == tier
    if code == "over_limit":
        assert body["detail"] == "Fast refunds cover orders up to 24.00 USD."


def test_api_fast_refund_errors(api_client: APIClient, member: Member) -> None:
    url = f"/api/v1/members/{member.number}/fast-refund/"
    response = api_client.post(url, {"order_amount": "-1"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"order_number", "order_amount"}
    missing = api_client.post(
        "/api/v1/members/0000000000/fast-refund/",
        {"order_number": "SO-1", "order_amount": "5.00"},
        format="json",
    )
    assert missing.status_code == 404 and missing.json()["code"] == "member_not_found"


def test_admin_matrix_needs_the_change_permissions(client: Client) -> None:
    from django.contrib.auth.models import Permission

    load()
    staff = MemberFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_benefit"))
    client.force_login(staff)
    assert client.get("/admin/benefits/benefit/matrix/").status_code == 403  # no change_tier
    gold = Tier.objects.get(code="gold")
    response = client.post("/admin/benefits/benefit/matrix/", {f"discount-{gold.pk}": "50"})
    assert response.status_code == 403
    assert Tier.objects.get(code="gold").discount_percent == Decimal("8.00")
    staff.user_permissions.add(Permission.objects.get(codename="change_tier"))
    client.force_login(Member.objects.get(pk=staff.pk))
    assert client.get("/admin/benefits/benefit/matrix/").status_code == 200


def test_benefits_page_shows_the_brand_of_the_week_with_the_members_discount(
    client: Client,
) -> None:
    from benefits.engagement.brands import week_start
    from core.clock import program_today
    from tests.benefits.engagement.factories import (
        FeaturedBrandDiscountFactory,
        FeaturedBrandFactory,
    )

    load()
    member = in_tier(MemberFactory(), "gold")
    featured = FeaturedBrandFactory(
        brand__name="Northwind Outdoor", week_start=week_start(program_today())
    )
    FeaturedBrandDiscountFactory(
        featured=featured, tier=Tier.objects.get(code="gold"), percent=Decimal("7.50")
    )
    client.force_login(member)
    html = client.get("/me/benefits/").content.decode()
    assert 'data-testid="featured-brand-name">Northwind Outdoor' in html
    assert "7.5% extra off for your tier this week." in html


# --- the texts staff write ------------------------------------------------------------------

ATTACKS = ["{percent.x}% off", "{percent[0]}% off", "{percent.__class__}% off"]


@pytest.mark.parametrize("text", ATTACKS)
def test_a_text_saved_with_an_attribute_or_index_is_shown_as_written(
    client: Client, api_client: APIClient, text: str
) -> None:
    # Saved before the validator existed (or by a bulk update): the page and the API still
    # answer, and nothing but {name} placeholders is ever interpreted.
    load()
    Benefit.objects.filter(code="level-discount").update(applies=text)
    member = in_tier(MemberFactory(), "gold")
    client.force_login(member)
    page = client.get("/me/benefits/")
    assert page.status_code == 200
    assert text in page.content.decode()
    answer = api_client.get(f"/api/v1/members/{member.number}/benefits/")
    assert answer.status_code == 200
    assert answer.json()["benefits"]["level-discount"]["applies"] == text


def test_placeholders_are_filled_and_a_double_brace_is_a_brace() -> None:
    benefit = Benefit(applies="{{VIP} {percent}% off, up to {limit} {currency}; {hours} h")
    line = BenefitLine(
        benefit, included=True, percent=Decimal("7.50"), limit=Decimal("24"), currency="USD"
    )
    assert line.applies == "{VIP} 7.5% off, up to 24.00 USD;  h"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{percent.x}% off", "A “{” must start a placeholder"),
        ("{percent[0]}% off", "A “{” must start a placeholder"),
        ("{percent.__class__}", "A “{” must start a placeholder"),
        ("{discount}% off", "Unknown placeholder {discount}: use {currency}, {hours}, {limit}"),
        ("50% off {", "A “{” must start a placeholder"),
    ],
)
def test_the_admin_refuses_an_unknown_or_malformed_placeholder_beside_the_field(
    admin_client: Client, text: str, error: str
) -> None:
    load()
    benefit = Benefit.objects.get(code="level-discount")
    url = f"/admin/benefits/benefit/{benefit.pk}/change/"
    data = {
        "code": benefit.code,
        "name": benefit.name,
        "description": benefit.description,
        "kind": benefit.kind,
        "applies": text,
        "position": benefit.position,
        "active": "on",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["applies"]
    assert error in errors["applies"][0]
    assert Benefit.objects.get(pk=benefit.pk).applies != text
    saved = admin_client.post(url, data | {"applies": "{{Members}} get {percent}% off"})
    assert saved.status_code == 302
    assert Benefit.objects.get(pk=benefit.pk).applies == "{{Members}} get {percent}% off"


@pytest.mark.parametrize("preset", ["aliexpress", "tmall"])
def test_every_preset_text_passes_the_validator(preset: str) -> None:
    load(preset)
    benefits = list(Benefit.objects.all())
    assert len(benefits) == 17
    for benefit in benefits:
        benefit.full_clean()
