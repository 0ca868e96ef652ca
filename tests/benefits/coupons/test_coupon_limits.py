"""The coupon-guessing limits: counted on the member's number however it is written, and
counted atomically (real threads; Redis when REDIS_URL is set, as in CI)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from rest_framework.test import APIClient

from benefits.coupons.models import CouponRedemption
from members.models import Member
from members.services import api_key_create
from tests.benefits.coupons.factories import CouponFactory
from tests.concurrency import run_threads

COMMON = {"order_amount": "25.00", "currency": "USD"}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def validate(client: APIClient, **body: object) -> Any:
    return client.post("/api/v1/coupons/validate/", body, format="json")


@pytest.mark.django_db
def test_the_member_limit_counts_the_number_however_it_is_written(
    api_client: APIClient, member: Member, settings: Any
) -> None:
    settings.COUPON_RATE_LIMITS = {"member": "4/min", "api_key": "100/min"}
    number = member.number
    spellings: list[object] = [int(number), f"  {number}\t", number.translate(FULL_WIDTH), number]
    for attempt, spelled in enumerate(spellings):
        answer = validate(api_client, code=f"GUES-S{attempt}", member=spelled, **COMMON)
        assert answer.status_code == 200, spelled
        assert answer.json()["code"] == "not_found"
    for spelled in spellings:
        refused = validate(api_client, code="GUES-SX", member=spelled, **COMMON)
        assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited"), spelled
    coupon = CouponFactory(member=member)
    body = {"id": "r1", "code": coupon.code, "member": int(number), "order_number": "SO-1"}
    redeemed = api_client.post(
        "/api/v1/coupons/redeem/", body | {"order_amount": "25.00"}, format="json"
    )
    assert redeemed.status_code == 429
    assert not CouponRedemption.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [12.5, "12345x"])
def test_a_member_number_that_is_not_digits_is_a_field_error(
    api_client: APIClient, bad: object
) -> None:
    answer = validate(api_client, code="GUES-S", member=bad, **COMMON)
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == {"member"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("limits", "one_member", "through"),
    [
        ({"member": "20/min", "api_key": "1000/min"}, True, 20),
        ({"member": "1000/min", "api_key": "30/min"}, False, 30),
    ],
)
def test_eight_clients_at_once_get_exactly_the_limit_through(
    settings: Any, limits: dict[str, str], one_member: bool, through: int
) -> None:
    settings.COUPON_RATE_LIMITS = limits
    key = api_key_create(name="guesser")[1]

    def guess(thread: int) -> list[int]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        statuses = []
        for n in range(12):
            number = "1000000000" if one_member else str(1_000_000_000 + thread * 100 + n)
            answer = validate(client, code=f"G{thread}-{n}", member=number, **COMMON)
            statuses.append(answer.status_code)
        return statuses

    statuses = Counter(s for per_thread in run_threads(8, guess) for s in per_thread)
    assert statuses == {200: through, 429: 96 - through}
