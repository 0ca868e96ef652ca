"""Category lists are checked at the length they are stored at, and the data migrations that
normalise what was saved before neither crash on a list that would not fit nor hold a whole
order table in memory."""

from __future__ import annotations

import importlib
import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection

from core.normalise import normalise_lists
from loyalty.earning.models import Order
from loyalty.program.models import Campaign
from members.models import Member

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("loyalty.migrations.0017_categories_normalised_data")
TYPED = ",".join(f"c{n:02d}" for n in range(64))  # 255 characters as typed, 318 as stored


def campaign(**fields: Any) -> Campaign:
    return Campaign(
        name="Double 11",
        starts_on=date(2026, 11, 11),
        ends_on=date(2026, 11, 11),
        bonus_points=5,
        **fields,
    )


def test_a_list_longer_than_its_column_once_stored_is_refused_beside_the_field() -> None:
    assert len(TYPED) == 255
    with pytest.raises(ValidationError) as refused:
        campaign(categories=TYPED).full_clean()
    assert list(refused.value.message_dict) == ["categories"]
    assert "318" in refused.value.message_dict["categories"][0]


def test_case_folding_that_lengthens_a_name_counts() -> None:
    typed = "ß" * 255  # "ss" each once stored
    with pytest.raises(ValidationError) as refused:
        campaign(categories=typed).full_clean()
    assert list(refused.value.message_dict) == ["categories"]
    campaign(categories="Shoes,\u3000Bags").full_clean()  # fits: no error


def _raw_campaign(categories: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_campaign (name, starts_on, ends_on, bonus_points, categories,"
            " active) VALUES ('c', '2026-11-11', '2026-11-11', 5, %s, true) RETURNING id",
            [categories],
        )
        return int(cursor.fetchone()[0])


def test_the_data_migration_leaves_a_list_that_would_not_fit_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    too_long, fits = _raw_campaign(TYPED), _raw_campaign("Shoes,\u3000BAGS")
    normalise_lists(apps.get_model("loyalty", "Campaign"))
    stored = dict(Campaign.objects.values_list("pk", "categories"))
    assert stored == {too_long: TYPED, fits: "shoes, bags"}
    assert (
        f"Campaign {too_long}: categories left as typed (318 characters" in capsys.readouterr().out
    )


def test_the_data_migration_rewrites_orders_in_batches(
    member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MIGRATION, "BATCH", 3)  # several batches from a few orders
    spelled = [["Shoes", "ｂａｇｓ"], ["tea"], ["Home\u3000 Decor"], ["STRASSE", "x"], ["ok"]] * 2
    with connection.cursor() as cursor:
        for n, categories in enumerate(spelled):
            cursor.execute(
                "INSERT INTO loyalty_order (number, member_id, amount, currency, categories,"
                " received_at, returned_amount, fraud)"
                " VALUES (%s, %s, %s, 'USD', %s::jsonb, now(), 0, false)",
                [f"SO-{n}", member.pk, Decimal("10.00"), json.dumps(categories)],
            )
    MIGRATION.normalise(apps, SimpleNamespace(connection=connection))
    stored = dict(Order.objects.values_list("number", "categories"))
    assert stored["SO-0"] == ["bags", "shoes"]
    assert stored["SO-1"] == ["tea"]
    assert stored["SO-2"] == ["home decor"]
    assert stored["SO-3"] == ["strasse", "x"]
    assert stored["SO-9"] == ["ok"]
    assert all(stored[f"SO-{n}"] == stored[f"SO-{n - 5}"] for n in range(5, 10))
