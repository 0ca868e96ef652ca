"""The reward shop: exchanges (coupon and merchandise), refusals that write nothing, the page
and the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from benefits.catalogue.models import Reward, RewardExchange
from benefits.catalogue.rewards import RewardError, reward_exchange
from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from loyalty.ledger.models import Account, PointEntry
from loyalty.ledger.services import points_award
from loyalty.program.models import Tier
from members.models import Member
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def coupon_reward(points: int = 500, **kwargs: object) -> Reward:
    template = CouponTemplateFactory(
        code=f"exchange-{points}",
        name="5.00 off for points",
        occasion=Occasion.POINTS_EXCHANGE,
        value=Decimal("5.00"),
        min_order=Decimal("20.00"),
        valid_days=30,
    )
    return Reward.objects.create(
        name="5.00 off coupon", kind="coupon", points=points, coupon_template=template, **kwargs
    )


def item_reward(points: int = 300, stock: int = 2) -> Reward:
    return Reward.objects.create(name="Tote bag", kind="merchandise", points=points, stock=stock)


def funded(points: int) -> Member:
    member = MemberFactory()
    if points:
        points_award(member_id=member.pk, points=points, reason="test")
    return member


def balance(member: Member) -> int:
    return Account.objects.get(member=member).balance


def test_exchange_points_for_a_coupon() -> None:
    member = funded(700)
    reward = coupon_reward()
    done = reward_exchange(member=member, reward_id=reward.pk)
    assert done.status == RewardExchange.Status.ISSUED
    assert done.points == 500
    assert balance(member) == 200
    entry = PointEntry.objects.get(member=member, kind="redeem")
    assert entry.points == -500 and entry.reason == "Exchanged for 5.00 off coupon"
    assert done.entry == entry
    coupon = Coupon.objects.get(member=member)
    assert done.coupon == coupon
    assert coupon.occasion == Occasion.POINTS_EXCHANGE
    assert coupon.reason == "Exchanged for 500 points"
    assert (coupon.valid_until - coupon.valid_from).days == 30
    assert CouponTemplate.objects.get(pk=reward.coupon_template_id).issued_count == 1


def test_exchange_points_for_merchandise_reserves_one() -> None:
    member = funded(300)
    reward = item_reward(stock=2)
    done = reward_exchange(member=member, reward_id=reward.pk)
    assert done.status == RewardExchange.Status.RESERVED and done.coupon is None
    reward.refresh_from_db()
    assert reward.stock == 1
    assert balance(member) == 0


def _nothing_written(member: Member, reward: Reward, stock: int | None, points: int) -> None:
    assert not RewardExchange.objects.exists()
    assert not Coupon.objects.exists()
    assert not PointEntry.objects.filter(member=member, kind="redeem").exists()
    assert balance(member) == points
    reward.refresh_from_db()
    assert reward.stock == stock


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("poor", "insufficient_points"),
        ("sold_out", "out_of_stock"),
        ("inactive", "reward_not_found"),
        ("gold_only", "not_eligible"),
        ("template_used_up", "out_of_stock"),
    ],
)
def test_refused_exchanges_write_nothing(setup: str, code: str, ladder) -> None:
    member = funded(499 if setup == "poor" else 1000)
    if setup in ("sold_out",):
        reward = item_reward(points=100, stock=0)
    else:
        reward = coupon_reward(stock=3 if setup == "poor" else None)
    if setup == "inactive":
        Reward.objects.filter(pk=reward.pk).update(active=False)
    if setup == "gold_only":
        reward.eligible_tiers.set([ladder["gold"]])
    if setup == "template_used_up":
        CouponTemplate.objects.filter(pk=reward.coupon_template_id).update(total_quantity=0)
    reward.refresh_from_db()
    stock = reward.stock
    with pytest.raises(RewardError) as refused:
        reward_exchange(member=member, reward_id=reward.pk)
    assert refused.value.code == code
    _nothing_written(member, reward, stock, 499 if setup == "poor" else 1000)


def test_a_member_in_debt_cannot_exchange() -> None:
    member = funded(0)
    Account.objects.update_or_create(member=member, defaults={"balance": -5})
    reward = item_reward(points=1, stock=1)
    with pytest.raises(RewardError) as refused:
        reward_exchange(member=member, reward_id=reward.pk)
    assert refused.value.code == "insufficient_points"
    reward.refresh_from_db()
    assert reward.stock == 1


def test_tier_restricted_reward_for_an_eligible_member(ladder) -> None:
    member = funded(600)
    Account.objects.filter(member=member).update(tier=ladder["gold"])
    reward = coupon_reward()
    reward.eligible_tiers.set([ladder["gold"], ladder["diamond"]])
    assert reward_exchange(member=member, reward_id=reward.pk).points == 500


# --- the page ---------------------------------------------------------------------------------


def test_rewards_page_lists_what_the_member_can_afford_and_why_not(client: Client, ladder) -> None:
    member = funded(400)
    affordable = item_reward(points=300, stock=4)
    dear = coupon_reward(points=500)
    sold_out = Reward.objects.create(name="Mug", kind="merchandise", points=10, stock=0)
    gold_only = Reward.objects.create(name="Scarf", kind="merchandise", points=10, stock=9)
    gold_only.eligible_tiers.set([ladder["gold"], ladder["diamond"]])
    Reward.objects.create(name="Hidden", kind="merchandise", points=1, stock=1, active=False)
    client.force_login(member)
    page = client.get("/me/rewards/").content.decode()
    assert 'data-testid="rewards-balance">400<' in page
    assert page.count('data-testid="reward"') == 4
    assert f'action="/me/rewards/{affordable.pk}/exchange/"' in page
    assert f"/me/rewards/{dear.pk}/exchange/" not in page
    assert "You need 100 more points." in page
    assert f"/me/rewards/{sold_out.pk}/exchange/" not in page and "Out of stock." in page
    assert "Only for Gold, Diamond." in page
    assert "Hidden" not in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_exchange_from_the_page(client: Client) -> None:
    member = funded(600)
    reward = coupon_reward()
    client.force_login(member)
    response = client.post(f"/me/rewards/{reward.pk}/exchange/", follow=True)
    coupon = Coupon.objects.get(member=member)
    page = response.content.decode()
    assert f"Exchanged! Your coupon {coupon.code} is in your wallet." in page
    assert 'data-testid="exchanges"' in page and f">{coupon.code}</a>" in page
    assert '<td class="mono">-500</td>' in page
    assert balance(member) == 100
    again = client.post(f"/me/rewards/{reward.pk}/exchange/", follow=True).content.decode()
    assert "Not enough points: 5.00 off coupon costs 500." in again
    assert Coupon.objects.count() == 1 and balance(member) == 100


def test_exchange_needs_post_and_login(client: Client) -> None:
    reward = item_reward()
    assert client.post(f"/me/rewards/{reward.pk}/exchange/").status_code == 302
    client.force_login(funded(1000))
    assert client.get(f"/me/rewards/{reward.pk}/exchange/").status_code == 405
    assert not RewardExchange.objects.exists()


def test_exchange_is_refused_without_the_csrf_token(member: Member) -> None:
    client = Client(enforce_csrf_checks=True)
    points_award(member_id=member.pk, points=500, reason="test")
    reward = item_reward()
    client.force_login(member)
    assert client.post(f"/me/rewards/{reward.pk}/exchange/").status_code == 403
    assert not RewardExchange.objects.exists()


def test_rewards_page_empty_state(client: Client, member: Member) -> None:
    client.force_login(member)
    page = client.get("/me/rewards/").content.decode()
    assert "No rewards are offered right now." in page
    assert "You have not exchanged points yet." in page


def test_rewards_page_runs_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries, ladder
) -> None:
    member = funded(100)
    reward = item_reward(points=1, stock=20)
    reward_exchange(member=member, reward_id=reward.pk)
    client.force_login(member)
    with django_assert_max_num_queries(8) as few:
        client.get("/me/rewards/")
    for i in range(15):
        reward = Reward.objects.create(name=f"R{i}", kind="merchandise", points=i + 1, stock=3)
        reward.eligible_tiers.set(list(Tier.objects.all()[: i % 3]))
        if i < 5:
            reward_exchange(member=member, reward_id=reward.pk)
    with django_assert_max_num_queries(8) as many:
        page = client.get("/me/rewards/").content.decode()
    assert page.count('data-testid="reward"') == 16
    assert page.count("<td>Item reserved</td>") == 6
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the API ----------------------------------------------------------------------------------


def test_api_lists_rewards(ladder) -> None:
    member = funded(400)
    item = item_reward(points=300, stock=4)
    dear = coupon_reward(points=500)
    dear.eligible_tiers.set([ladder["standard"]])
    client = APIClient()
    client.force_login(member)
    response = client.get("/api/v1/me/rewards/")
    assert response.status_code == 200
    assert response.json() == {
        "balance": 400,
        "results": [
            {
                "id": item.pk,
                "name": "Tote bag",
                "description": "",
                "kind": "merchandise",
                "points": 300,
                "stock": 4,
                "tiers": [],
                "available": True,
                "reason": "available",
                "detail": "",
            },
            {
                "id": dear.pk,
                "name": "5.00 off coupon",
                "description": "",
                "kind": "coupon",
                "points": 500,
                "stock": None,
                "tiers": ["standard"],
                "available": False,
                "reason": "insufficient_points",
                "detail": "You need 100 more points.",
            },
        ],
    }


def test_api_exchange_a_coupon() -> None:
    member = funded(600)
    reward = coupon_reward()
    client = APIClient()
    client.force_login(member)
    response = client.post(f"/api/v1/me/rewards/{reward.pk}/exchange/")
    assert response.status_code == 201
    body = response.json()
    done = RewardExchange.objects.get()
    assert body["id"] == done.pk
    assert body["reward"] == "5.00 off coupon"
    assert body["points"] == 500 and body["balance"] == 100 and body["status"] == "issued"
    assert body["coupon"]["code"] == Coupon.objects.get().code
    assert body["coupon"]["occasion"] == "points_exchange"
    wallet = client.get("/api/v1/me/coupons/").json()["results"]
    assert [c["code"] for c in wallet] == [body["coupon"]["code"]]


@pytest.mark.parametrize(
    ("setup", "status", "code", "detail"),
    [
        ("poor", 422, "insufficient_points", "Not enough points: Tote bag costs 300."),
        ("sold_out", 409, "out_of_stock", "This reward is out of stock."),
        ("missing", 404, "reward_not_found", "This reward is not offered."),
        ("gold_only", 403, "not_eligible", "Your tier cannot exchange this reward."),
    ],
)
def test_api_exchange_errors(setup: str, status: int, code: str, detail: str, ladder) -> None:
    member = funded(299 if setup == "poor" else 1000)
    reward = item_reward(stock=0 if setup == "sold_out" else 5)
    if setup == "gold_only":
        reward.eligible_tiers.set([ladder["gold"]])
    client = APIClient()
    client.force_login(member)
    reward_id = reward.pk + 1 if setup == "missing" else reward.pk
    response = client.post(f"/api/v1/me/rewards/{reward_id}/exchange/")
    assert response.status_code == status
    assert response.json() == {"code": code, "detail": detail, "fields": {}}
    assert not RewardExchange.objects.exists()
    assert not PointEntry.objects.filter(kind="redeem").exists()


def test_api_rewards_need_a_member(api_client: APIClient) -> None:
    reward = item_reward()
    anonymous = APIClient()
    for client, status in [(anonymous, (401, 403)), (api_client, (403,))]:
        listing = client.get("/api/v1/me/rewards/")
        exchange = client.post(f"/api/v1/me/rewards/{reward.pk}/exchange/")
        assert listing.status_code in status and exchange.status_code in status
        assert exchange.json()["code"] in (
            "not_authenticated",
            "authentication_failed",
            "permission_denied",
        )
    assert not RewardExchange.objects.exists()


# --- the admin --------------------------------------------------------------------------------


def test_admin_lists_rewards_and_exchanges(admin_client: Client) -> None:
    member = funded(600)
    reward = coupon_reward()
    reward_exchange(member=member, reward_id=reward.pk)
    assert "5.00 off coupon" in admin_client.get("/admin/benefits/reward/").content.decode()
    page = admin_client.get("/admin/benefits/rewardexchange/").content.decode()
    assert member.email in page or str(member) in page
    assert admin_client.get("/admin/benefits/rewardexchange/add/").status_code == 403


def test_reward_clean_explains_the_kind_fields() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as bad:
        Reward(name="x", kind="merchandise", points=5).full_clean()
    assert bad.value.message_dict["stock"] == ["Merchandise needs a stock."]
    with pytest.raises(ValidationError) as bad:
        Reward(name="x", kind="coupon", points=5).full_clean()
    assert bad.value.message_dict["coupon_template"] == ["A coupon reward needs a coupon template."]
