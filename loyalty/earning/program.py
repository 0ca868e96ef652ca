"""The program as the earning rules read it (settings, rules, active campaigns, the base tier),
memoised in this process under the program's page version (portal.page_versions: database
triggers bump it on every change of those tables). The snapshot reads the current version under
the account locks, so a plan never uses settings older than its transaction."""

from __future__ import annotations

from django.db import connection

from loyalty.program.models import Campaign, EarningRule, Program, Tier

from .planner import CampaignState, ProgramState

_MEMO: list[ProgramState] = []


def program_version() -> int:
    """The program's page version now (-1 before anything bumped it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM members_pageversion WHERE scope = 0")
        row = cursor.fetchone()
    return int(row[0]) if row else -1


def program_state(version: int | None = None) -> ProgramState:
    """The memo, if it was read under `version` (None: whatever it holds), else a fresh read."""
    if _MEMO and (version is None or _MEMO[0].version == version):
        return _MEMO[0]
    state = _read()
    _MEMO[:] = [state]
    return state


def forget() -> None:
    """Drop the memo (tests start each case with empty caches)."""
    _MEMO.clear()


def _read() -> ProgramState:
    # The version first: a change committed in between leaves newer data under an older
    # version, which the next snapshot then finds stale and reads again.
    version = program_version()
    settings = Program.objects.filter(pk=1).first() or Program(pk=1)  # defaults until saved
    rules = {rule.pk: rule for rule in EarningRule.objects.all()}
    campaigns = tuple(
        CampaignState(
            id=c.pk,
            name=c.name,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            multiplier=c.multiplier,
            bonus_points=c.bonus_points,
            categories=frozenset(c.category_list),
            tier_ids=frozenset(t.pk for t in c.tiers.all()),
        )
        for c in Campaign.objects.filter(active=True).prefetch_related("tiers")
    )
    base = Tier.objects.filter(min_points=0).values_list("pk", flat=True).first()
    return ProgramState(
        version=version,
        settings=settings,
        rules=rules,
        campaigns=campaigns,
        base_tier_id=base,
    )
