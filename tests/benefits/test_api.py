from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from benefits.coupons.models import Coupon, CouponRedemption, CouponTemplate
from members.models import Member
from members.services import api_key_create
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coupon(member: Member) -> Coupon:
    return CouponFactory(member=member, code="ABCD-EFGH-JKMN-PQRS")


def validate(client: APIClient, **body: object):
    return client.post("/api/v1/coupons/validate/", body, format="json")


def redeem(client: APIClient, **body: object):
    return client.post("/api/v1/coupons/redeem/", body, format="json")


def release(client: APIClient, **body: object):
    return client.post("/api/v1/coupons/release/", body, format="json")


def order(coupon: Coupon, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "req-1",
        "code": coupon.code,
        "member": coupon.member.number,
        "order_number": "SO-1",
        "order_amount": "25.00",
    }
    body.update(extra)
    return body


# --- validate -----------------------------------------------------------------------------


def test_validate_a_good_coupon(api_client: APIClient, coupon: Coupon) -> None:
    response = validate(
        api_client,
        code="abcd efgh jkmn pqrs",
        member=coupon.member.number,
        order_amount="25.00",
        currency="USD",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["discount"] == "5.00"
    assert body["coupon"]["code"] == "ABCD-EFGH-JKMN-PQRS"
    assert body["coupon"]["status"] == "available"
    assert body["coupon"]["value"] == "5.00"
    assert body["coupon"]["min_order"] == "10.00"
    assert body["coupon"]["why"] == "Welcome gift"
    assert not CouponRedemption.objects.exists()


def test_validate_percent_and_free_shipping(api_client: APIClient, member: Member) -> None:
    percent = CouponFactory(
        member=member,
        template=CouponTemplateFactory(kind="percent_off", value=Decimal("15"), min_order=0),
    )
    shipping = CouponFactory(
        member=member,
        template=CouponTemplateFactory(kind="free_shipping", value=0, min_order=0),
    )
    body = {"member": member.number, "order_amount": "33.33", "currency": "USD"}
    assert validate(api_client, code=percent.code, **body).json()["discount"] == "5.00"
    assert validate(api_client, code=shipping.code, **body).json()["discount"] == "0.00"


@pytest.mark.parametrize(
    ("change", "amount", "currency", "expected"),
    [
        ({"status": "redeemed"}, "25.00", "USD", "used"),
        ({"status": "expired"}, "25.00", "USD", "expired"),
        ({"status": "void"}, "25.00", "USD", "void"),
        ({"valid_until_days": -1}, "25.00", "USD", "expired"),
        ({"valid_from_days": 2}, "25.00", "USD", "not_started"),
        ({}, "9.99", "USD", "min_amount"),
        ({}, "25.00", "EUR", "currency"),
    ],
)
def test_validate_refusals(
    api_client: APIClient, coupon: Coupon, change, amount, currency, expected
) -> None:
    now = timezone.now()
    if "status" in change:
        coupon.status = change["status"]
    if "valid_until_days" in change:
        coupon.valid_from = now - timedelta(days=10)
        coupon.valid_until = now + timedelta(days=change["valid_until_days"])
    if "valid_from_days" in change:
        coupon.valid_from = now + timedelta(days=change["valid_from_days"])
    coupon.save()
    response = validate(
        api_client,
        code=coupon.code,
        member=coupon.member.number,
        order_amount=amount,
        currency=currency,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert body["code"] == expected
    assert body["detail"]


def test_validate_not_found_and_not_yours(api_client: APIClient, coupon: Coupon) -> None:
    other = MemberFactory()
    common = {"order_amount": "25.00", "currency": "USD"}
    missing = validate(api_client, code="ZZZZ-ZZZZ-ZZZZ-ZZZZ", member=other.number, **common)
    assert missing.json() == {
        "valid": False,
        "code": "not_found",
        "detail": "No coupon with this code.",
    }
    # Another member's coupon answers exactly as an unknown code: a guesser learns nothing.
    theirs = validate(api_client, code=coupon.code, member=other.number, **common)
    assert theirs.json() == missing.json()


def test_validate_bad_input_is_a_json_400(api_client: APIClient) -> None:
    response = validate(api_client, code="", member="1", order_amount="-1", currency="DOLLARS")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"code", "order_amount", "currency"}


def test_checkout_api_needs_an_api_key(member_client: APIClient, coupon: Coupon) -> None:
    anonymous = validate(APIClient(), code=coupon.code)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    as_member = redeem(member_client, **order(coupon))
    assert as_member.status_code == 403
    assert as_member.json()["code"] == "permission_denied"
    assert not CouponRedemption.objects.exists()


# --- redeem / release -----------------------------------------------------------------------


def test_redeem_201_then_same_id_200_same_answer(api_client: APIClient, coupon: Coupon) -> None:
    first = redeem(api_client, **order(coupon))
    assert first.status_code == 201
    body = first.json()
    assert body["id"] == "req-1"
    assert body["code"] == coupon.code
    assert body["member"] == coupon.member.number
    assert body["order_number"] == "SO-1"
    assert body["order_amount"] == "25.00"
    assert body["discount"] == "5.00"
    assert body["currency"] == "USD"
    coupon.refresh_from_db()
    assert coupon.status == "redeemed"
    assert coupon.order_number == "SO-1"

    again = redeem(api_client, **order(coupon))
    assert again.status_code == 200
    assert again.json() == body
    assert CouponRedemption.objects.count() == 1


def test_redeem_under_another_id_is_409_coupon_used(api_client: APIClient, coupon: Coupon) -> None:
    assert redeem(api_client, **order(coupon)).status_code == 201
    response = redeem(api_client, **order(coupon, id="req-2", order_number="SO-2"))
    assert response.status_code == 409
    assert response.json()["code"] == "coupon_used"
    assert CouponRedemption.objects.count() == 1


def test_redeem_same_id_for_another_coupon_is_409(api_client: APIClient, coupon: Coupon) -> None:
    other = CouponFactory(member=coupon.member)
    assert redeem(api_client, **order(coupon)).status_code == 201
    response = redeem(api_client, **order(other))
    assert response.status_code == 409
    assert response.json()["code"] == "id_conflict"
    other.refresh_from_db()
    assert other.status == "available"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, 404, "coupon_not_found"),
        ({"member": "0000000000"}, 404, "coupon_not_found"),
        ({"order_amount": "5.00"}, 422, "coupon_min_amount"),
        ({"id": ""}, 400, "invalid"),
    ],
)
def test_redeem_refusals_write_nothing(
    api_client: APIClient, coupon: Coupon, body, status, code
) -> None:
    response = redeem(api_client, **order(coupon, **body))
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not CouponRedemption.objects.exists()
    coupon.refresh_from_db()
    assert coupon.status == "available"


def test_redeem_an_expired_coupon_is_422(api_client: APIClient, coupon: Coupon) -> None:
    coupon.valid_from = timezone.now() - timedelta(days=40)
    coupon.valid_until = timezone.now() - timedelta(days=1)
    coupon.save()
    response = redeem(api_client, **order(coupon))
    assert (response.status_code, response.json()["code"]) == (422, "coupon_expired")
    assert not CouponRedemption.objects.exists()


def test_release_returns_the_coupon_and_is_idempotent(
    api_client: APIClient, coupon: Coupon
) -> None:
    assert redeem(api_client, **order(coupon)).status_code == 201
    first = release(api_client, id="rel-1", code=coupon.code, order_number="SO-1")
    assert first.status_code == 200
    body = first.json()
    assert body["id"] == "rel-1"
    assert body["redemption_id"] == "req-1"
    assert body["status"] == "available"
    assert body["order_number"] == "SO-1"
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_number, coupon.redeemed_at) == ("available", "", None)

    again = release(api_client, id="rel-1", code=coupon.code, order_number="SO-1")
    assert again.status_code == 200
    assert again.json() == body

    # Usable again, under a new request id.
    assert redeem(api_client, **order(coupon, id="req-2", order_number="SO-9")).status_code == 201
    assert CouponRedemption.objects.filter(released_at__isnull=True).count() == 1


def test_release_of_an_order_that_did_not_use_the_coupon_is_404(
    api_client: APIClient, coupon: Coupon
) -> None:
    response = release(api_client, id="rel-1", code=coupon.code, order_number="SO-1")
    assert (response.status_code, response.json()["code"]) == (404, "redemption_not_found")
    missing = release(api_client, id="rel-1", code="ZZZZ", order_number="SO-1")
    assert (missing.status_code, missing.json()["code"]) == (404, "coupon_not_found")


# --- lists --------------------------------------------------------------------------------


def test_member_coupons_for_an_api_key_and_for_the_member_himself(
    api_client: APIClient, member_client: APIClient, member: Member, coupon: Coupon
) -> None:
    used = CouponFactory(member=member, status="redeemed")
    CouponFactory()  # someone else's
    url = f"/api/v1/members/{member.number}/coupons/"
    body = api_client.get(url).json()
    assert [c["code"] for c in body["results"]] == [used.code, coupon.code]
    assert api_client.get(url + "?status=used").json()["results"][0]["status"] == "redeemed"
    assert [c["code"] for c in member_client.get("/api/v1/me/coupons/").json()["results"]] == [
        used.code,
        coupon.code,
    ]
    mine = member_client.get(url)
    assert mine.status_code == 200
    other = MemberFactory()
    theirs = member_client.get(f"/api/v1/members/{other.number}/coupons/")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "member_not_found")
    bad = api_client.get(url + "?status=nope")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert api_client.get("/api/v1/me/coupons/").status_code == 403


def test_coupon_lists_run_a_constant_number_of_queries(
    member_client: APIClient, member: Member, django_assert_max_num_queries
) -> None:
    template = CouponTemplateFactory()
    for _i in range(15):
        CouponFactory(member=member, template=template)
    with django_assert_max_num_queries(4):
        response = member_client.get("/api/v1/me/coupons/")
    assert len(response.json()["results"]) == 15


def test_coupon_lists_are_cursor_paginated_newest_first(
    api_client: APIClient, member: Member
) -> None:
    coupons = [CouponFactory(member=member) for _i in range(3)]
    url = f"/api/v1/members/{member.number}/coupons/?page_size=2"
    first = api_client.get(url).json()
    assert [c["code"] for c in first["results"]] == [coupons[2].code, coupons[1].code]
    assert first["previous"] is None and first["next"]
    second = api_client.get(first["next"]).json()
    assert [c["code"] for c in second["results"]] == [coupons[0].code]
    assert second["next"] is None


# --- rate limits --------------------------------------------------------------------------


def test_validation_is_rate_limited_per_member(
    api_client: APIClient, coupon: Coupon, settings
) -> None:
    settings.COUPON_RATE_LIMITS = {"member": "3/min", "api_key": "100/min"}
    body = {"member": coupon.member.number, "order_amount": "25.00", "currency": "USD"}
    for attempt in range(3):
        assert validate(api_client, code=f"GUES-S{attempt}", **body).status_code == 200
    refused = validate(api_client, code=coupon.code, **body)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    # Redeeming for the same member shares the limit; another member is not affected.
    assert redeem(api_client, **order(coupon)).status_code == 429
    assert not CouponRedemption.objects.exists()
    other = MemberFactory()
    assert validate(api_client, code="X", **{**body, "member": other.number}).status_code == 200


def test_validation_is_rate_limited_per_api_key(
    api_client: APIClient, coupon: Coupon, settings
) -> None:
    settings.COUPON_RATE_LIMITS = {"member": "100/min", "api_key": "2/min"}
    for _i in range(2):
        member = MemberFactory()
        body = {"member": member.number, "order_amount": "1", "currency": "USD"}
        assert validate(api_client, code="X", **body).status_code == 200
    refused = validate(api_client, code="X", member="1", order_amount="1", currency="USD")
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    # Another key has its own budget.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(name='other')[1]}")
    assert (
        validate(client, code="X", member="2", order_amount="1", currency="USD").status_code == 200
    )


# --- the race -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_redemptions_exactly_one_succeeds(settings) -> None:
    settings.COUPON_RATE_LIMITS = {"member": "100/min", "api_key": "100/min"}
    member = MemberFactory()
    template = CouponTemplate.objects.create(
        code="race",
        name="Race",
        kind="amount_off",
        value=Decimal("5"),
        valid_days=30,
        occasion="manual",
    )
    now = timezone.now()
    coupon = Coupon.objects.create(
        member=member,
        template=template,
        occasion="manual",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=1),
        reason="race",
    )
    key = api_key_create(name="race")[1]
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    codes: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        try:
            barrier.wait()
            response = redeem(
                client, **order(coupon, id=f"req-{index}", order_number=f"SO-{index}")
            )
            with lock:
                statuses.append(response.status_code)
                if response.status_code != 201:
                    codes.append(response.json()["code"])
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 19
    assert codes == ["coupon_used"] * 19
    assert CouponRedemption.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.status == "redeemed"
