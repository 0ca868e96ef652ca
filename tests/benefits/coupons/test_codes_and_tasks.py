from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benefits.coupons.models import CODE_ALPHABET, Coupon, Occasion, new_coupon_code, normalize_code
from benefits.coupons.tasks import expire_coupons_task, issue_occasion_coupons_task
from loyalty.ledger.models import Account
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.factories import MemberFactory

CODE = re.compile(r"[A-HJKMNP-Z2-9]{4}(-[A-HJKMNP-Z2-9]{4}){3}")


def test_codes_have_no_look_alikes_and_are_grouped() -> None:
    assert not set("01OIL") & set(CODE_ALPHABET)
    codes = {new_coupon_code() for _i in range(2000)}
    assert len(codes) == 2000
    assert all(CODE.fullmatch(code) for code in codes)


@given(st.text(alphabet=CODE_ALPHABET, min_size=16, max_size=16), st.sampled_from(["", " ", "-"]))
def test_typed_codes_normalize_to_the_stored_form(raw: str, separator: str) -> None:
    stored = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    typed = separator.join(raw[i : i + 4] for i in range(0, 16, 4)).lower()
    assert normalize_code(typed) == stored


@pytest.mark.django_db
def test_tasks_take_a_date_and_are_safe_to_run_twice(ladder) -> None:
    CouponTemplateFactory(occasion=Occasion.BIRTHDAY, tiers=[ladder["gold"]])
    member = MemberFactory(birthday=date(1980, 3, 9), birthday_set_on=date(2020, 1, 1))
    Account.objects.create(member=member, tier=ladder["gold"])
    assert issue_occasion_coupons_task("2020-03-09") == 1
    assert issue_occasion_coupons_task("2020-03-09") == 0
    assert Coupon.objects.count() == 1
    # Valid for 30 days from 9 March 2020: long past, so the expiry task marks it.
    assert expire_coupons_task() == 1
    assert expire_coupons_task() == 0
    assert Coupon.objects.get().status == "expired"
