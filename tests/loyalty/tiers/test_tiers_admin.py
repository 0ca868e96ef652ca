"""The tier admin: ladder validation, floors, runs, the what-if page; the command."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from loyalty.ledger.models import Account
from loyalty.program.models import Tier
from loyalty.tiers.models import TierChange, TierFloor, TierRun
from loyalty.tiers.services import tiers_recalculate, tiers_what_if
from tests.factories import MemberFactory
from tests.loyalty.conftest import earn

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def staff_client(db: Any) -> tuple[Client, Any]:
    staff = MemberFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client, staff


def _tier_post(tier: Tier, **changes: Any) -> dict[str, Any]:
    data = {
        "code": tier.code,
        "name": tier.name,
        "rank": tier.rank,
        "min_points": tier.min_points,
        "discount_percent": str(tier.discount_percent),
        "fast_refund_limit": "" if tier.fast_refund_limit is None else str(tier.fast_refund_limit),
        "badge_colour": tier.badge_colour,
        "description": tier.description,
    }
    data.update(changes)
    return data


def test_admin_refuses_a_threshold_out_of_order(ladder: Any, staff_client: Any) -> None:
    client, _staff = staff_client
    gold = ladder["gold"]
    url = reverse("admin:loyalty_tier_change", args=[gold.pk])
    response = client.post(url, _tier_post(gold, min_points=600))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["min_points"]
    assert "rank 4 needs more than 600 points" in errors["min_points"][0]
    gold.refresh_from_db()
    assert gold.min_points == 101


def test_admin_refuses_a_second_tier_at_zero(ladder: Any, staff_client: Any) -> None:
    client, _staff = staff_client
    silver = ladder["silver"]
    response = client.post(
        reverse("admin:loyalty_tier_change", args=[silver.pk]), _tier_post(silver, min_points=0)
    )
    assert response.status_code == 200
    assert "min_points" in response.context["adminform"].form.errors
    silver.refresh_from_db()
    assert silver.min_points == 1


def test_admin_accepts_a_valid_threshold(ladder: Any, staff_client: Any) -> None:
    client, _staff = staff_client
    gold = ladder["gold"]
    response = client.post(
        reverse("admin:loyalty_tier_change", args=[gold.pk]), _tier_post(gold, min_points=200)
    )
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.min_points == 200


def test_staff_sets_a_floor_and_it_is_recorded(
    ladder: Any, staff_client: Any, account_member: Any
) -> None:
    client, staff = staff_client
    member = account_member()
    response = client.post(
        reverse("admin:loyalty_tierfloor_add"),
        {
            "member": member.pk,
            "tier": ladder["gold"].pk,
            "until": "2027-01-31",
            "reason": "service recovery",
        },
    )
    assert response.status_code == 302
    floor = TierFloor.objects.get()
    assert (floor.member, floor.tier, floor.until, floor.reason, floor.created_by) == (
        member,
        ladder["gold"],
        date(2027, 1, 31),
        "service recovery",
        staff,
    )
    # floors are never edited or deleted
    change = client.post(
        reverse("admin:loyalty_tierfloor_change", args=[floor.pk]),
        {"member": member.pk, "tier": ladder["diamond"].pk, "until": "2030-01-01", "reason": "x"},
    )
    assert change.status_code == 403
    delete = client.post(
        reverse("admin:loyalty_tierfloor_delete", args=[floor.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    floor.refresh_from_db()
    assert (floor.tier, floor.until) == (ladder["gold"], date(2027, 1, 31))


def test_floor_without_reason_is_refused_beside_the_field(
    ladder: Any, staff_client: Any, account_member: Any
) -> None:
    client, _staff = staff_client
    member = account_member()
    response = client.post(
        reverse("admin:loyalty_tierfloor_add"),
        {"member": member.pk, "tier": ladder["gold"].pk, "until": "2027-01-31", "reason": ""},
    )
    assert response.status_code == 200
    assert "reason" in response.context["adminform"].form.errors
    assert not TierFloor.objects.exists()


def test_run_list_shows_progress(
    ladder: Any, tz_program: Any, staff_client: Any, account_member: Any
) -> None:
    client, _staff = staff_client
    for _ in range(3):
        account_member()
    tiers_recalculate(as_of=date(2026, 10, 31))
    response = client.get(reverse("admin:loyalty_tierrun_changelist"))
    assert response.status_code == 200
    assert '<progress value="100" max="100" title="100%">100%</progress> 3 / 3' in (
        response.content.decode()
    )


def test_what_if_counts_before_saving(
    ladder: Any, tz_program: Any, staff_client: Any, account_member: Any
) -> None:
    client, _staff = staff_client
    a, b, c = account_member(), account_member(), account_member()
    earn(a, 120, datetime(2026, 6, 1, tzinfo=SH))
    earn(b, 600, datetime(2026, 6, 1, tzinfo=SH))
    tiers_recalculate(as_of=date(2026, 10, 31))  # a gold, b platinum, c standard
    assert c.pk
    params = {"as_of": "2026-10-31"}
    for tier in ladder.values():
        params[f"tier_{tier.pk}"] = str(tier.min_points)
    params[f"tier_{ladder['gold'].pk}"] = "150"  # a would drop to silver
    response = client.get(reverse("admin:loyalty_tier_what_if"), params)
    assert response.status_code == 200
    rows = {row.tier.code: row for row in response.context["rows"]}
    assert (rows["gold"].members_now, rows["gold"].members, rows["gold"].moving_out) == (1, 0, 1)
    assert (rows["silver"].members, rows["silver"].moving_in) == (1, 1)
    assert (rows["platinum"].members, rows["standard"].members) == (1, 1)
    ladder["gold"].refresh_from_db()
    assert ladder["gold"].min_points == 101  # nothing saved
    assert not TierChange.objects.exclude(period=date(2026, 10, 1)).exists()


def test_what_if_refuses_an_invalid_ladder(ladder: Any, staff_client: Any) -> None:
    client, _staff = staff_client
    params = {"as_of": "2026-10-31"}
    for tier in ladder.values():
        params[f"tier_{tier.pk}"] = str(tier.min_points)
    params[f"tier_{ladder['gold'].pk}"] = "1"
    response = client.get(reverse("admin:loyalty_tier_what_if"), params)
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert response.context["form"].non_field_errors()


def test_what_if_is_one_query(
    ladder: Any, tz_program: Any, account_member: Any, django_assert_num_queries: Any
) -> None:
    for _ in range(4):
        account_member()
    with django_assert_num_queries(2):  # the ladder, then the counts (settings are cached)
        rows = tiers_what_if(thresholds={}, as_of=date(2026, 10, 31))
    assert [row.members for row in rows] == [4, 0, 0, 0, 0]


def test_command_dry_run_then_run(ladder: Any, tz_program: Any, account_member: Any) -> None:
    member = account_member()
    earn(member, 700, datetime(2026, 9, 1, tzinfo=SH))
    out = StringIO()
    call_command("recalculate_tiers", "--as-of", "2026-10-31", "--dry-run", stdout=out)
    assert "Dry run as of 2026-10-31 (dry-run): 1 of 1 members, 1 up, 0 down, 0 unchanged" in (
        out.getvalue()
    )
    assert not TierRun.objects.exists()
    out = StringIO()
    call_command("recalculate_tiers", "--as-of", "2026-10-31", stdout=out)
    assert "1 of 1 members\n" in out.getvalue()
    assert "Run 2026-10 as of 2026-10-31 (done): 1 of 1 members, 1 up, 0 down, 0 unchanged" in (
        out.getvalue()
    )
    assert Account.objects.get(member=member).tier == ladder["platinum"]


def test_command_without_ladder_fails_cleanly(db: Any) -> None:
    with pytest.raises(CommandError, match="no tier at 0 points"):
        call_command("recalculate_tiers", "--as-of", "2026-10-31", stdout=StringIO())


def test_what_if_page_starts_from_the_current_ladder(ladder: Any, staff_client: Any) -> None:
    client, _staff = staff_client
    changelist = client.get(reverse("admin:loyalty_tier_changelist"))
    assert reverse("admin:loyalty_tier_what_if") in changelist.content.decode()
    response = client.get(reverse("admin:loyalty_tier_what_if"))
    assert response.status_code == 200
    assert response.context["rows"] is None
    form = response.context["form"]
    assert [field.initial for field in form.tier_fields()] == [0, 1, 101, 501, 1501]


def test_what_if_needs_staff(ladder: Any, account_member: Any) -> None:
    client = Client()
    client.force_login(account_member())
    response = client.get(reverse("admin:loyalty_tier_what_if"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
