"""The one cache rule (core.cache): a value is cached under its key and a version; a write by
any path moves the version (database triggers), and the next read rebuilds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from core import cache
from core.cache import Scope
from loyalty.earning.program import program_state
from loyalty.program.models import EarningRule, Program, Tier
from loyalty.program.presets import tiers as tier_preset
from loyalty.program.selectors import cached_ladder
from portal.page_versions import versions_read
from tests.benefits.engagement.factories import BrandFactory

pytestmark = pytest.mark.django_db


class Builds:
    """A build function that counts its calls and answers the count."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def read(build: Builds, **kwargs: Any) -> int:
    return cache.cached("test:value", build, scope=Scope.SHOWCASE, seconds=60, **kwargs)


def test_a_version_bump_makes_the_next_read_rebuild() -> None:
    build = Builds()
    assert read(build) == 1
    assert read(build) == 1  # from the shared cache: the version did not move
    assert build.calls == 1
    BrandFactory()  # any write of a showcase table moves the showcase's version
    assert read(build) == 2
    assert read(build) == 2
    assert build.calls == 2


def test_the_shared_cache_answers_another_process_under_the_same_version() -> None:
    build = Builds()
    assert read(build, memo=True) == 1
    cache.forget()  # a fresh process: no memo, no versions
    assert read(build, memo=True) == 1
    assert build.calls == 1


def test_a_program_edit_moves_the_settings_but_a_tier_or_brand_edit_does_not() -> None:
    Program.load()  # the row is made on first use
    tier_preset.load("aliexpress")
    settings = Program.load()
    engine = program_state(cache.version(Scope.EARNING))
    before = versions_read()
    tier = Tier.objects.get(min_points=0)
    tier.name = "Bronze"
    tier.badge_colour = "#000000"
    tier.save()
    BrandFactory()
    after = versions_read()
    assert after[Scope.PROGRAM_SETTINGS] == before[Scope.PROGRAM_SETTINGS]
    assert after[Scope.EARNING] == before[Scope.EARNING]
    assert after[Scope.PROGRAM_WIDE] > before[Scope.PROGRAM_WIDE]  # the dashboard's key moved
    assert after[Scope.LADDER] > before[Scope.LADDER]
    assert Program.load() is settings  # not rebuilt
    assert program_state(cache.version(Scope.EARNING)) is engine
    assert [t.name for t in cached_ladder()][0] == "Bronze"  # the ladder was rebuilt

    settings.backdating_days = 30
    settings.save()
    moved = versions_read()
    assert moved[Scope.PROGRAM_SETTINGS] > after[Scope.PROGRAM_SETTINGS]
    assert moved[Scope.EARNING] > after[Scope.EARNING]
    assert Program.load() is not settings
    assert Program.load().backdating_days == 30
    fresh = program_state(cache.version(Scope.EARNING))
    assert fresh is not engine
    assert fresh.settings.backdating_days == 30


def test_an_earning_rule_edit_moves_the_engine_but_not_the_settings() -> None:
    Program.load()
    before = versions_read()
    EarningRule.objects.create(kind="review", name="Review", points=2)
    after = versions_read()
    assert after[Scope.EARNING] > before.get(Scope.EARNING, -1)
    assert after.get(Scope.PROGRAM_SETTINGS) == before.get(Scope.PROGRAM_SETTINGS)


@pytest.mark.parametrize("statement", ["update", "bulk", "delete and insert"])
def test_a_raw_sql_write_of_a_program_table_is_seen(statement: str) -> None:
    Program.objects.create(pk=1, backdating_days=90)
    tier_preset.load("aliexpress")
    assert Program.load().backdating_days == 90
    assert cached_ladder()[0].discount_percent == Decimal("0")
    with connection.cursor() as cursor:
        if statement == "update":
            cursor.execute("UPDATE loyalty_program SET backdating_days = 7 WHERE id = 1")
            cursor.execute("UPDATE loyalty_tier SET discount_percent = 1.5 WHERE min_points = 0")
        elif statement == "bulk":
            Program.objects.filter(pk=1).update(backdating_days=7)
            Tier.objects.filter(min_points=0).update(discount_percent=Decimal("1.5"))
        else:
            cursor.execute("DELETE FROM loyalty_program WHERE id = 1")
            cursor.execute(
                "INSERT INTO loyalty_program (id, name, currency, time_zone, "
                "qualifying_window_months, instant_upgrade, expiry_policy, expiry_months, "
                "backdating_days) VALUES (1, 'P', 'USD', 'UTC', 12, false, 'months', 12, 7)"
            )
            cursor.execute("UPDATE loyalty_tier SET discount_percent = 1.5 WHERE min_points = 0")
    assert Program.load().backdating_days == 7
    assert cached_ladder()[0].discount_percent == Decimal("1.5")


def test_a_read_under_the_database_version_sees_a_write_this_process_did_not_see() -> None:
    """A unit of work that read its versions from the database (the dashboard's status query,
    the engine's snapshot) sees a write by another process at once."""
    Program.objects.create(pk=1, backdating_days=90)
    assert Program.load().backdating_days == 90
    # another process's write (past Django's cursor): the triggers move the version, but this
    # thread is not told; it trusts what it read for CACHE_VERSION_SECONDS
    with connection.connection.cursor() as raw:
        raw.execute("UPDATE loyalty_program SET backdating_days = 8 WHERE id = 1")
    assert Program.load().backdating_days == 90
    with cache.versions_known(versions_read()):
        assert Program.load().backdating_days == 8
    cache.versions_forget()  # what the expiry of its knowledge does
    assert Program.load().backdating_days == 8


def test_the_memo_never_serves_a_value_older_than_the_version() -> None:
    build = Builds()
    with cache.versions_known({Scope.SHOWCASE: 10}):
        assert read(build, memo=True, shared=False) == 1
        assert read(build, memo=True, shared=False) == 1  # the memo
    with cache.versions_known({Scope.SHOWCASE: 11}):
        assert read(build, memo=True, shared=False) == 2  # a newer version: rebuilt
    with cache.versions_known({Scope.SHOWCASE: 10}):
        # the memo holds version 11 only: it never answers for another version
        assert read(build, memo=True, shared=False) == 3
    assert build.calls == 3


def test_a_value_is_stored_under_its_version_and_never_deleted() -> None:
    from django.core.cache import cache as django_cache

    build = Builds()
    with cache.versions_known({Scope.SHOWCASE: 5}):
        read(build)
    with cache.versions_known({Scope.SHOWCASE: 6}):
        read(build)
    assert django_cache.get_many(["test:value:5", "test:value:6"]) == {
        "test:value:5": 1,
        "test:value:6": 2,
    }
