"""The indexes of the tables every posting writes, on PostgreSQL (migration 0014): each index
is paid on each insert, so the set is pinned here; a new one must be added on purpose."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from loyalty.ledger.models import Account
from loyalty.program.models import Tier
from loyalty.tiers.models import TierChange
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db]


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return {name: definition.split(" USING btree ", 1)[1] for name, definition in cursor}


def test_the_written_tables_have_only_the_indexes_their_queries_use() -> None:
    shapes = {
        table: sorted(_indexes(table).values())
        for table in ("loyalty_pointentry", "loyalty_event", "loyalty_order", "loyalty_pointlot")
    }
    assert shapes["loyalty_pointentry"] == sorted(
        [
            "(id)",
            "(member_id, occurred_at DESC, id DESC)",
            "(member_id, qualifying_at) INCLUDE (points, occurred_at) "
            "WHERE (qualifying_at IS NOT NULL)",
            "(api_key_id)",
            "(rule_id)",
            "(event_id)",
            "(order_id)",
            "(reverses_id) WHERE (reverses_id IS NOT NULL)",
            "(created_by_id) WHERE (created_by_id IS NOT NULL)",
            "(campaign_id) WHERE (campaign_id IS NOT NULL)",
        ]
    )
    assert shapes["loyalty_event"] == sorted(["(id)", "(api_key_id, key)", "(member_id)"])
    assert shapes["loyalty_order"] == sorted(["(id)", "(number)", "(member_id, received_at)"])
    assert shapes["loyalty_pointlot"] == sorted(
        [
            "(id)",
            "(entry_id)",
            "(member_id, expires_on, id)",
            "(expires_on, member_id) WHERE (remaining > 0)",
        ]
    )


def test_a_tier_changes_period_key_leads_with_the_period() -> None:
    """The monthly job writes one period's rows across all members: period first, they land
    at the index's right edge (migration 0015)."""
    assert sorted(_indexes("loyalty_tierchange").values()) == sorted(
        [
            "(id)",
            "(member_id)",
            "(period, member_id) WHERE ((kind)::text = 'evaluation'::text)",
            "(member_id, period, to_tier_id) WHERE ((kind)::text = 'instant'::text)",
            "(floor_id) WHERE ((kind)::text = 'floor'::text)",
            "(effective_on) WHERE (NOT applied)",
        ]
    )


def test_a_tier_change_keeps_its_tier_keys_without_their_indexes(
    ladder: dict[str, Tier],
) -> None:
    columns = list(_indexes("loyalty_tierchange").values())
    assert not [c for c in columns if c.startswith(("(from_tier_id)", "(to_tier_id)"))]
    extra = Tier.objects.create(code="extra", name="Extra", rank=99, min_points=99_999)
    member = MemberFactory()
    Account.objects.get_or_create(member=member)
    TierChange.objects.create(
        member=member,
        period="2026-10-01",
        from_tier=ladder["standard"],
        to_tier=extra,
        direction="up",
        qualifying_points=100_000,
        effective_on="2026-11-01",
        applied=True,
        created_at="2026-10-31T16:00:00Z",
    )
    # The database still refuses to delete a tier a change refers to: the change's tier key
    # fails (checked at COMMIT; SET CONSTRAINTS makes it check now). Only the change refers
    # to `extra`.
    with (
        pytest.raises(
            IntegrityError, match=r"loyalty_tierchange_to_tier_id_\w+_fk_loyalty_tier_id"
        ),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM loyalty_tier WHERE id = %s", [extra.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
