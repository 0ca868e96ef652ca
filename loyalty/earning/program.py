"""The program as the earning rules read it (settings, rules, active campaigns, the base tier),
memoised in this process under its own version (core.cache, `Scope.EARNING`: database triggers
bump it on every change of those tables, and a brand or a sale does not move it). The snapshot
reads the current version under the account locks, so a plan never uses settings older than
its transaction."""

from __future__ import annotations

from core.cache import Scope, cached, memoised
from core.cache import version as scope_version
from loyalty.program.models import Campaign, EarningRule, Program, Tier

from .planner import CampaignState, ProgramState

MEMO_KEY = "loyalty:earning:program"
MEMO_SECONDS = 24 * 3600  # the version decides; the lifetime only bounds an idle process


def program_state(version: int | None = None) -> ProgramState:
    """The program read under `version`, or (None) the memo whatever its version (the caller
    checks it against the snapshot's), else under the current version."""
    if version is None:
        hit = memoised(MEMO_KEY)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
    at = scope_version(Scope.EARNING) if version is None else version
    return cached(
        MEMO_KEY,
        lambda: _read(at),
        scope=Scope.EARNING,
        seconds=MEMO_SECONDS,
        memo=True,
        shared=False,
        at=at,
    )


def _read(version: int) -> ProgramState:
    # The version was read first: a change committed in between leaves newer data under an
    # older version, which the next snapshot then finds stale and reads again.
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
