"""Tier services: the ladder's rules, floors and the monthly recalculation.

The recalculation is set-based SQL over ranges of member ids. A run is one row per period
(UNIQUE); its chunks (member-id ranges) are created with it, in the same transaction, and
each chunk is processed once, under its row lock, in one transaction that also writes its
tier changes (UNIQUE per member and period) and bumps the run's counters. So a rerun of a
finished period changes nothing, a run killed half-way finishes the chunks still pending
when started again, and two runs started together each skip the chunks the other did.

Qualifying points for an evaluation as of day D (inclusive, program time zone) follow the
ledger's contract with T = the start of D + 1: SUM(points) WHERE qualifying_at in
[T - window, T) AND occurred_at < T.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from core.clock import add_months, day_bounds, program_today
from core.queue import task_queue
from loyalty.ledger.models import Account, PointEntry
from loyalty.program.models import Program, Tier
from loyalty.tiers.models import TierChange, TierFloor, TierRun, TierRunChunk
from members.models import Member

TIER_CHANGED = "tier.changed"
DEFAULT_CHUNK_SIZE = 250_000
_MIN_POINTS = -(2**62)


# --- The ladder ---------------------------------------------------------------------------
def ladder_validate(rungs: Iterable[tuple[int, int]]) -> None:
    """Raise ValidationError unless, ordered by rank, thresholds strictly increase and
    exactly one tier sits at 0 points. `rungs` are (rank, min_points) pairs."""
    ordered = sorted(rungs)
    ranks = [rank for rank, _points in ordered]
    if len(set(ranks)) != len(ranks):
        raise ValidationError(_("Two tiers have the same rank."), code="rank_duplicate")
    zero = [points for _rank, points in ordered if points == 0]
    if len(zero) != 1:
        raise ValidationError(
            _("Exactly one tier must start at 0 points (found %(n)d).") % {"n": len(zero)},
            code="ladder_base",
        )
    for (low_rank, low), (high_rank, high) in zip(ordered, ordered[1:], strict=False):
        if high <= low:
            raise ValidationError(
                _(
                    "Thresholds must increase with the rank: rank %(high_rank)d needs more "
                    "than %(low)d points (rank %(low_rank)d)."
                )
                % {"high_rank": high_rank, "low": low, "low_rank": low_rank},
                code="ladder_order",
            )


# --- Floors -------------------------------------------------------------------------------
@transaction.atomic
def tier_floor_set(
    *, member_id: int, tier_id: int, until: date, reason: str, created_by_id: int
) -> TierFloor:
    """Record a staff-set tier floor (floors are never edited: the rows are the audit) and,
    when it is active today (program time zone) and above the tier the member holds, raise
    the member to it at once: a `TierChange` of kind `floor` (linked to the floor, so to its
    staff member and reason), announced as `tier.changed` (the inbox notice and the level-up
    reward follow from the outbox), as for a promotion. Never lowers a tier; when the floor ends, the next evaluation decides.

    Under the account's row lock (taken as the instant upgrade takes it, after the pending
    chunk of a running job that covers the member). Idempotent: the same floor set again
    (member, tier, until, reason) returns the recorded one and changes nothing."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the floor.")})
    account = _tier_change_lock(member_id)
    same = TierFloor.objects.filter(
        member_id=member_id, tier_id=tier_id, until=until, reason=reason
    ).first()
    if same is not None:
        return same
    floor = TierFloor.objects.create(
        member_id=member_id,
        tier_id=tier_id,
        until=until,
        reason=reason,
        created_by_id=created_by_id,
    )
    today = program_today()
    if account is None or until < today:
        return floor
    ladder = _ladder()
    rank_of = {pk: rank for pk, rank, _points in ladder}
    base_pk = next(pk for pk, _rank, min_points in ladder if min_points == 0)
    from_pk = account.tier_id or base_pk
    if rank_of[tier_id] <= rank_of[from_pk]:
        return floor
    program = Program.load()
    change = TierChange.objects.create(
        member_id=member_id,
        kind=TierChange.Kind.FLOOR,
        floor=floor,
        period=today,
        from_tier_id=from_pk,
        to_tier_id=tier_id,
        direction=TierChange.Direction.UP,
        qualifying_points=_live_qualifying_points(member_id, today, program),
        effective_on=today,
        applied=True,
        created_at=timezone.now(),
    )
    Account.objects.filter(pk=account.pk).update(tier_id=tier_id, tier_effective_on=today)
    tier_changes_announce(TierChange.objects.filter(pk=change.pk))
    return floor


# --- Evaluation window --------------------------------------------------------------------
def evaluation_window(as_of: date, program: Program) -> tuple[datetime, datetime]:
    """[start, end) of the qualifying window of an evaluation as of `as_of` (inclusive)."""
    nxt = as_of + timedelta(days=1)
    end = day_bounds(nxt)[0]
    start = day_bounds(add_months(nxt, -program.qualifying_window_months))[0]
    return start, end


def effective_date(as_of: date, program: Program) -> date:
    """When the changes of an evaluation as of `as_of` take effect: the next day ("at once")
    or the program's effective day of the month after `as_of`."""
    if not program.tier_effective_day:
        return as_of + timedelta(days=1)
    return add_months(as_of.replace(day=1), 1).replace(day=program.tier_effective_day)


# --- SQL ----------------------------------------------------------------------------------
def _t(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_EVAL_TABLE = "tier_eval"

Rung = tuple[int, int, int]  # (tier id, rank, min_points)


def _ladder() -> list[Rung]:
    return list(Tier.objects.order_by("rank").values_list("pk", "rank", "min_points"))


def rank_case_sql(points_sql: str, ladder: Sequence[Rung]) -> str:
    """SQL for the rank earned with `points_sql` points on `ladder` (integers inlined: the
    ladder is a handful of rows, and a CASE keeps the planner's row estimates intact)."""
    base = next(rank for _pk, rank, points in ladder if points == 0)
    whens = " ".join(
        f"WHEN {points_sql} >= {int(points)} THEN {int(rank)}"
        for _pk, rank, points in sorted(ladder, key=lambda rung: -rung[2])
        if points > 0
    )
    return f"CASE {whens} ELSE {int(base)} END" if whens else str(int(base))


def _tier_rank_sql(tier_sql: str, ladder: Sequence[Rung]) -> str:
    base = next(rank for _pk, rank, points in ladder if points == 0)
    whens = " ".join(f"WHEN {int(pk)} THEN {int(rank)}" for pk, rank, _points in ladder)
    return f"CASE {tier_sql} {whens} ELSE {int(base)} END"


def _rank_tier_sql(rank_sql: str, ladder: Sequence[Rung]) -> str:
    whens = " ".join(f"WHEN {int(rank)} THEN {int(pk)}" for pk, rank, _points in ladder)
    return f"CASE {rank_sql} {whens} END"


def qualifying_sql(member_filter: str) -> str:
    """Qualifying points per member (the ledger's contract), params start, end."""
    entry = _t(PointEntry)
    return f"""
        SELECT member_id, SUM(points) AS pts FROM {entry}
        WHERE {member_filter}
          AND qualifying_at IS NOT NULL
          AND qualifying_at >= %(start)s AND qualifying_at < %(end)s AND occurred_at < %(end)s
        GROUP BY member_id
    """  # noqa: S608 (names from model metadata)


def _raised_floor_sql() -> str:
    return """CASE WHEN c.te > %(as_of)s AND COALESCE(fl.floor_rank, -1) < c.from_rank
                   THEN c.from_rank ELSE fl.floor_rank END AS floor_rank"""


def _moved_ctes(ladder: Sequence[Rung]) -> str:
    return f"""
    r AS (
        SELECT member_id, pts, from_rank,
               CASE WHEN floor_rank > earned_rank THEN floor_rank ELSE earned_rank END AS to_rank
        FROM e
    ),
    moved AS (
        SELECT member_id, pts, from_rank, to_rank,
               {_rank_tier_sql("from_rank", ladder)} AS from_tier_id,
               {_rank_tier_sql("to_rank", ladder)} AS to_tier_id
        FROM r WHERE to_rank <> from_rank
    )"""  # noqa: S608 (integers from the ladder)


def _eval_ctes(ladder: Sequence[Rung]) -> str:
    """CTEs evaluating one member-id range (params lo, hi, start, end, as_of). `moved` holds
    the members whose tier changes, `counted` the number of accounts in the range.

    The rank a member ends with is the earned one, raised to their highest active floor and,
    when their tier took effect after `as_of` (an instant upgrade since that date), to the
    tier they hold: an evaluation never undoes a later promotion.

    In one pass: the grouped aggregate over the covering index, merge-joined to the range's
    accounts, feeds one aggregate that counts the accounts and keeps, in one array, only the
    candidates (earned rank differs from the tier held, or an active floor: a hashed lookup).
    Floors and the rest apply to those few rows only."""
    tier, floor, account = _t(Tier), _t(TierFloor), _t(Account)
    in_range = "member_id >= %(lo)s AND member_id < %(hi)s"
    return f"""
    q AS ({qualifying_sql(in_range)}),
    floors AS MATERIALIZED (
        SELECT f.member_id, MAX(ft.rank) AS floor_rank
        FROM {floor} f JOIN {tier} ft ON ft.id = f.tier_id
        WHERE f.member_id >= %(lo)s AND f.member_id < %(hi)s AND f.until >= %(as_of)s
        GROUP BY f.member_id
    ),
    s AS (
        SELECT a.member_id, COALESCE(q.pts, 0) AS pts,
               {_tier_rank_sql("a.tier_id", ladder)} AS from_rank,
               {rank_case_sql("COALESCE(q.pts, 0)", ladder)} AS earned_rank,
               a.tier_effective_on AS te
        FROM {account} a
        LEFT JOIN q ON q.member_id = a.member_id
        WHERE a.member_id >= %(lo)s AND a.member_id < %(hi)s
    ),
    agg AS MATERIALIZED (
        SELECT COUNT(*) AS n,
               array_agg(ROW(member_id::bigint, pts::bigint, from_rank::integer,
                             earned_rank::integer, te::date))
                   FILTER (WHERE earned_rank <> from_rank
                           OR member_id IN (SELECT member_id FROM floors)) AS candidates
        FROM s
    ),
    counted AS (SELECT n FROM agg),
    e AS (
        SELECT c.member_id, c.pts, c.from_rank, c.earned_rank, {_raised_floor_sql()}
        FROM agg CROSS JOIN LATERAL unnest(agg.candidates)
            AS c(member_id bigint, pts bigint, from_rank integer, earned_rank integer, te date)
        LEFT JOIN floors fl ON fl.member_id = c.member_id
    ),
    {_moved_ctes(ladder)}
    """  # noqa: S608 (names from model metadata, integers from the ladder)


def _insert_changes_sql(source: str) -> str:
    """The chunk's changes. A plain INSERT: a chunk is processed once (its row lock and done
    flag), so an evaluation row already there for a member and period can only be a fault,
    and `tierchange_once_per_period` then refuses the whole chunk (it rolls back, account
    updates included) instead of skipping the row while the account still moves."""
    return f"""
        INSERT INTO {_t(TierChange)} (member_id, period, from_tier_id, to_tier_id, direction,
                                      kind, qualifying_points, effective_on, applied, created_at)
        SELECT member_id, %(period)s, from_tier_id, to_tier_id,
               CASE WHEN to_rank > from_rank THEN 'up' ELSE 'down' END, 'evaluation',
               pts, %(eff)s, %(applied)s, %(now)s
        FROM {source} WHERE member_id IS NOT NULL
    """  # noqa: S608 (names from model metadata)


def _update_accounts_sql(source: str) -> str:
    """Only the accounts whose tier changes are written: rewriting every account's points
    each month would cost more than the whole evaluation (pages compute live points)."""
    account = _t(Account)
    return f"""
        UPDATE {account}
        SET tier_id = CASE WHEN %(applied)s THEN m.to_tier_id ELSE {account}.tier_id END,
            tier_effective_on = CASE WHEN %(applied)s THEN %(eff)s
                                     ELSE {account}.tier_effective_on END,
            qualifying_points = m.pts,
            evaluated_on = %(as_of)s
        FROM {source} m
        WHERE {account}.member_id = m.member_id
    """  # noqa: S608 (names from model metadata)


@dataclass(frozen=True)
class Counts:
    processed: int
    moved_up: int
    moved_down: int

    @property
    def unchanged(self) -> int:
        return self.processed - self.moved_up - self.moved_down


def _params(
    *, lo: int, hi: int, as_of: date, start: datetime, end: datetime, run: TierRun | None = None
) -> dict[str, Any]:
    ops = connection.ops
    params: dict[str, Any] = {
        "lo": lo,
        "hi": hi,
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
        "as_of": ops.adapt_datefield_value(as_of),
    }
    if run is not None:
        params.update(
            period=ops.adapt_datefield_value(run.period),
            eff=ops.adapt_datefield_value(run.effective_on),
            applied=run.effective_on <= run.as_of + timedelta(days=1),
            now=ops.adapt_datetimefield_value(timezone.now()),
        )
    return params


# The job's session settings on PostgreSQL (SET LOCAL: the chunk's transaction only). Both
# sides of the evaluation's join come sorted by member id, so a merge join beats hashing a
# range's accounts; JIT compiles ~60 functions per chunk for nothing (the plan is a simple
# stream); and the chunk is one serial stream (Celery fans the chunks out, one per worker; the
# bare aggregate of bench/recalc.py is planned serial too).
JOB_SESSION_SETTINGS = {
    "enable_hashjoin": "off",
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
}


def _job_session(cursor: Any) -> None:
    for name, value in JOB_SESSION_SETTINGS.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _evaluate_range(cursor: Any, *, params: dict[str, Any], write: bool) -> Counts:
    """Evaluate one member-id range and, with `write`, record its moves.

    One read-only statement (a single pass: the grouped aggregate over the covering index,
    merge-joined to the range's accounts) keeps only the members who move, plus a count row,
    in a temp table; the writes then touch only those rows (a nested loop over the account's
    primary key, not a second pass over the range)."""
    ctes = _eval_ctes(_ladder())
    _job_session(cursor)
    cursor.execute(f"DROP TABLE IF EXISTS {_EVAL_TABLE}")
    cursor.execute(
        f"""CREATE TEMP TABLE {_EVAL_TABLE} AS WITH {ctes}
        SELECT member_id, pts, from_rank, to_rank, from_tier_id, to_tier_id FROM moved
        UNION ALL SELECT NULL, n, NULL, NULL, NULL, NULL FROM counted""",  # noqa: S608
        params,
    )
    cursor.execute(
        f"""SELECT COALESCE(SUM(CASE WHEN member_id IS NULL THEN pts ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN to_rank > from_rank THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN to_rank < from_rank THEN 1 ELSE 0 END), 0)
            FROM {_EVAL_TABLE}"""  # noqa: S608 (a constant table name)
    )
    processed, up, down = cursor.fetchone()
    if write and (up or down):
        # a few rows: probe the accounts' pkey
        cursor.execute(f"ANALYZE {_EVAL_TABLE}")
        cursor.execute("SELECT set_config('enable_mergejoin', 'off', true)")
        cursor.execute(_insert_changes_sql(_EVAL_TABLE), params)
        cursor.execute(_update_accounts_sql(_EVAL_TABLE), params)
    cursor.execute(f"DROP TABLE {_EVAL_TABLE}")
    return Counts(int(processed), int(up), int(down))


# --- Runs ---------------------------------------------------------------------------------
def _require_base_tier() -> None:
    if not Tier.objects.filter(min_points=0).exists():
        raise ValidationError(_("The ladder has no tier at 0 points: load a program first."))


@transaction.atomic
def tier_changes_apply(*, as_of: date) -> int:
    """Make the pending tier changes effective on or before `as_of` (set-based; idempotent).
    Returns the number of accounts changed.

    A change applies to an account still in the tier it was decided from; a promotion also
    applies to an account a floor has since raised part of the way (still below the change's
    tier). An instant upgrade (always above the pending tier, see `tier_instant_upgrade`) or
    a floor at or above it settles it. A demotion stops at the member's highest floor active
    on `as_of` (a floor set after the evaluation). The guards are on the account row, so
    they are re-checked under that row's lock."""
    change, account, tier, floor = _t(TierChange), _t(Account), _t(Tier), _t(TierFloor)
    day = connection.ops.adapt_datefield_value(as_of)
    base = Tier.objects.filter(min_points=0).values_list("pk", flat=True).first() or 0
    held = f"COALESCE({account}.tier_id, %(base)s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {account}
            SET tier_id = CASE WHEN c.direction = 'down' THEN COALESCE(
                    (SELECT f.tier_id FROM {floor} f JOIN {tier} ft ON ft.id = f.tier_id
                     WHERE f.member_id = c.member_id AND f.until >= %(day)s
                       AND ft.rank > (SELECT t.rank FROM {tier} t WHERE t.id = c.to_tier_id)
                     ORDER BY ft.rank DESC LIMIT 1),
                    c.to_tier_id) ELSE c.to_tier_id END,
                tier_effective_on = c.effective_on
            FROM {change} c
            WHERE c.member_id = {account}.member_id AND c.applied = %(no)s
              AND c.effective_on <= %(day)s
              AND c.period = (SELECT MAX(c2.period) FROM {change} c2
                              WHERE c2.member_id = c.member_id AND c2.applied = %(no)s
                                AND c2.effective_on <= %(day)s)
              AND ({held} = c.from_tier_id
                   OR (c.direction = 'up'
                       AND (SELECT t.rank FROM {tier} t WHERE t.id = c.to_tier_id)
                           > (SELECT t.rank FROM {tier} t WHERE t.id = {held})))
            """,  # noqa: S608 (names from model metadata)
            {"no": False, "day": day, "base": int(base)},
        )
        changed = cursor.rowcount
    TierChange.objects.filter(applied=False, effective_on__lte=as_of).update(applied=True)
    return max(changed, 0)


@transaction.atomic
def tier_run_start(
    *, as_of: date, chunk_size: int = DEFAULT_CHUNK_SIZE, enqueue: bool = False
) -> TierRun:
    """The run of `as_of`'s period, created with its chunks if missing (UNIQUE period: two
    callers get the same row). With `enqueue`, one Celery task per pending chunk is queued
    after commit."""
    _require_base_tier()
    tier_changes_apply(as_of=as_of)
    program = Program.load()
    period = as_of.replace(day=1)
    start, end = evaluation_window(as_of, program)
    try:
        with transaction.atomic():
            run = TierRun.objects.create(
                period=period,
                as_of=as_of,
                window_start=start,
                window_end=end,
                effective_on=effective_date(as_of, program),
            )
    except IntegrityError:
        run = TierRun.objects.get(period=period)
    else:
        chunks = _chunks(run, chunk_size)
        TierRunChunk.objects.bulk_create(chunks)
        run.total = _accounts_estimate() if chunks else 0
        run.chunks_total = len(chunks)
        if not chunks:
            run.status = TierRun.Status.DONE
            run.finished_at = timezone.now()
        run.save()
    if enqueue and run.status == TierRun.Status.RUNNING:
        pending = list(run.chunks.filter(done=False).values_list("pk", flat=True))
        transaction.on_commit(lambda: _enqueue_chunks(pending))
    return run


def _accounts_estimate() -> int:
    """The number of accounts for a running job's progress: PostgreSQL's statistics (kept by
    autovacuum) when it has them, else an exact count. The run's final total is exact."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [Account._meta.db_table],
        )
        row = cursor.fetchone()
    if row is not None and row[0] >= 0:
        return int(row[0])
    return Account.objects.count()


def _chunks(run: TierRun, chunk_size: int) -> list[TierRunChunk]:
    """Ranges of `chunk_size` member ids between the lowest and highest account."""
    bounds = Account.objects.aggregate(lo=Min("member_id"), hi=Max("member_id"))
    if bounds["lo"] is None:
        return []
    last = bounds["hi"] + 1  # accounts opened later are not part of this run
    return [
        TierRunChunk(run=run, first_member_id=first, end_member_id=min(first + chunk_size, last))
        for first in range(bounds["lo"], last, chunk_size)
    ]


def _enqueue_chunks(chunk_ids: Sequence[int]) -> None:
    for chunk_id in chunk_ids:
        task_queue("loyalty.tasks.tier_run_chunk_task", chunk_id)


@transaction.atomic
def tier_run_chunk_process(*, chunk_id: int) -> bool:
    """Evaluate and write one chunk, once (under its row lock). False if it was done."""
    chunk = TierRunChunk.objects.select_for_update().get(pk=chunk_id)
    if chunk.done:
        return False
    run = TierRun.objects.get(pk=chunk.run_id)
    params = _params(
        lo=chunk.first_member_id,
        hi=chunk.end_member_id,
        as_of=run.as_of,
        start=run.window_start,
        end=run.window_end,
        run=run,
    )
    with connection.cursor() as cursor:
        counts = _evaluate_range(cursor, params=params, write=True)
    if counts.moved_up or counts.moved_down:
        # Told in the chunk's transaction: level-up rewards, notices and emails follow from
        # the outbox, and a worker killed after this commit loses none of them.
        tier_changes_announce(
            TierChange.objects.filter(
                period=run.period,
                kind=TierChange.Kind.EVALUATION,
                member_id__gte=chunk.first_member_id,
                member_id__lt=chunk.end_member_id,
            )
        )
    TierRunChunk.objects.filter(pk=chunk.pk).update(done=True, done_at=timezone.now())
    TierRun.objects.filter(pk=run.pk).update(
        processed=F("processed") + counts.processed,
        moved_up=F("moved_up") + counts.moved_up,
        moved_down=F("moved_down") + counts.moved_down,
        unchanged=F("unchanged") + counts.unchanged,
        chunks_done=F("chunks_done") + 1,
    )
    TierRun.objects.filter(
        pk=run.pk, status=TierRun.Status.RUNNING, chunks_done=F("chunks_total")
    ).update(status=TierRun.Status.DONE, finished_at=timezone.now(), total=F("processed"))
    return True


def tier_changes_announce(changes: QuerySet[TierChange]) -> int:
    """Record a `tier.changed` event for each of these changes, in the caller's transaction
    (the one that wrote them), in one statement however many (a job's chunk has thousands).
    Its subscribers (settings) give the level-up reward, write the inbox notice and send its
    email. Returns the number of events."""
    ids_sql, ids_params = changes.values("pk").query.sql_with_params()
    change, member, tier = _t(TierChange), _t(Member), _t(Tier)
    source = f"""
        SELECT row_number() OVER (ORDER BY c.member_id, c.id) AS ord, c.member_id,
               jsonb_build_object('member', m.number, 'tier_change', c.id) AS subject,
               jsonb_build_object(
                   'period', to_char(c.period, 'YYYY-MM-DD'),
                   'kind', c.kind,
                   'direction', c.direction,
                   'effective_on', to_char(c.effective_on, 'YYYY-MM-DD'),
                   'from', jsonb_build_object('code', f.code, 'name', f.name),
                   'to', jsonb_build_object('id', t.id, 'code', t.code, 'name', t.name)
               ) AS data
        FROM {change} c
        JOIN {member} m ON m.id = c.member_id
        JOIN {tier} f ON f.id = c.from_tier_id
        JOIN {tier} t ON t.id = c.to_tier_id
        WHERE c.id IN ({ids_sql})
    """  # noqa: S608 (names from model metadata, values as parameters)
    return len(outbox.emit_query(TIER_CHANGED, source, ids_params))


@dataclass(frozen=True)
class RecalcResult:
    period: date
    as_of: date
    dry_run: bool
    status: str
    total: int
    processed: int
    moved_up: int
    moved_down: int
    unchanged: int


def _result(run: TierRun) -> RecalcResult:
    return RecalcResult(
        period=run.period,
        as_of=run.as_of,
        dry_run=False,
        status=run.status,
        total=run.total,
        processed=run.processed,
        moved_up=run.moved_up,
        moved_down=run.moved_down,
        unchanged=run.unchanged,
    )


def tiers_recalculate(
    *,
    as_of: date,
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[RecalcResult], None] | None = None,
) -> RecalcResult:
    """Evaluate every member's tier as of `as_of` (inclusive), in this process.

    Exactly once per period (`as_of`'s month): a finished period is left as it is, an
    unfinished one is resumed. Each chunk commits on its own (this function is deliberately
    not one transaction: a crash keeps the chunks done). `dry_run` counts the moves in one
    statement and writes nothing. The Celery path is `tier_run_start(enqueue=True)`.
    """
    if dry_run:
        _require_base_tier()
        program = Program.load()
        start, end = evaluation_window(as_of, program)
        params = _params(lo=_MIN_POINTS, hi=-_MIN_POINTS, as_of=as_of, start=start, end=end)
        with transaction.atomic(), connection.cursor() as cursor:
            counts = _evaluate_range(cursor, params=params, write=False)
        return RecalcResult(
            period=as_of.replace(day=1),
            as_of=as_of,
            dry_run=True,
            status="dry-run",
            total=counts.processed,
            processed=counts.processed,
            moved_up=counts.moved_up,
            moved_down=counts.moved_down,
            unchanged=counts.unchanged,
        )
    run = tier_run_start(as_of=as_of, chunk_size=chunk_size)
    for chunk_id in (
        run.chunks.filter(done=False).order_by("first_member_id").values_list("pk", flat=True)
    ):
        tier_run_chunk_process(chunk_id=chunk_id)
        if progress is not None:
            run.refresh_from_db()
            progress(_result(run))
    run.refresh_from_db()
    return _result(run)


# --- Instant upgrade ----------------------------------------------------------------------
@transaction.atomic
def tier_instant_upgrade(*, member_id: int) -> TierChange | None:
    """Promote the member at once if their live qualifying points (the job's window, ending
    with today in the program's time zone) or an active floor reach a tier above the one
    they hold or were already promoted to by an evaluation (a pending change). Never
    demotes. Returns the change recorded, None when nothing changed (so safe to run twice).

    Serialised with the monthly job: the pending chunk covering the member is locked first
    (the job locks it before evaluating), then the account, as the ledger does."""
    program = Program.load()
    if not program.instant_upgrade:
        return None
    ladder = _ladder()
    if not ladder:
        return None
    account = _tier_change_lock(member_id)
    if account is None:
        return None
    today = program_today()
    points = _live_qualifying_points(member_id, today, program)
    rank_of = {pk: rank for pk, rank, _points in ladder}
    tier_of = {rank: pk for pk, rank, _points in ladder}
    base_pk = next(pk for pk, _rank, min_points in ladder if min_points == 0)
    earned = max(rank for _pk, rank, min_points in ladder if min_points <= max(points, 0))
    floors = TierFloor.objects.filter(member_id=member_id, until__gte=today).values_list(
        "tier_id", flat=True
    )
    target = max([earned, *(rank_of[pk] for pk in floors)])
    from_pk = account.tier_id or base_pk
    pending = TierChange.objects.filter(member_id=member_id, applied=False).values_list(
        "to_tier_id", flat=True
    )
    decided = max([rank_of[from_pk], *(rank_of[pk] for pk in pending)])
    if target <= decided:
        return None
    change = TierChange.objects.create(
        member_id=member_id,
        kind=TierChange.Kind.INSTANT,
        period=today,
        from_tier_id=from_pk,
        to_tier_id=tier_of[target],
        direction=TierChange.Direction.UP,
        qualifying_points=points,
        effective_on=today,
        applied=True,
        created_at=timezone.now(),
    )
    Account.objects.filter(pk=account.pk).update(
        tier_id=tier_of[target],
        tier_effective_on=today,
        qualifying_points=points,
        evaluated_on=today,
    )
    tier_changes_announce(TierChange.objects.filter(pk=change.pk))
    return change


def _tier_change_lock(member_id: int) -> Account | None:
    """Lock what a promotion between evaluations writes, in the job's order: the pending
    chunk of a running job that covers the member (the job locks it before evaluating), then
    the account (as the ledger does). None if the member has no account."""
    list(
        TierRunChunk.objects.select_for_update(of=("self",))
        .filter(
            run__status=TierRun.Status.RUNNING,
            done=False,
            first_member_id__lte=member_id,
            end_member_id__gt=member_id,
        )
        .values_list("pk", flat=True)
    )
    return Account.objects.select_for_update().filter(member_id=member_id).first()


def _live_qualifying_points(member_id: int, today: date, program: Program) -> int:
    """The member's qualifying points in the window ending with `today` (one query)."""
    start, end = evaluation_window(today, program)
    total = PointEntry.objects.filter(
        member_id=member_id,
        qualifying_at__gte=start,
        qualifying_at__lt=end,
        occurred_at__lt=end,
    ).aggregate(total=Sum("points"))["total"]
    return int(total or 0)


# --- What if ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhatIfRow:
    tier: Tier
    min_points: int
    proposed_min_points: int
    members_now: int
    members: int
    moving_in: int
    moving_out: int


def tiers_what_if(*, thresholds: dict[int, int], as_of: date) -> list[WhatIfRow]:
    """Members per tier if the ladder had these thresholds ({tier id: min points}), evaluated
    as of `as_of` (floors included), against each member's current tier. One query; writes
    nothing. Raises ValidationError if the proposed ladder is not valid."""
    tiers = list(Tier.objects.order_by("rank"))
    proposed = [(t.pk, t.rank, thresholds.get(t.pk, t.min_points)) for t in tiers]
    ladder_validate([(rank, points) for _pk, rank, points in proposed])
    current = [(t.pk, t.rank, t.min_points) for t in tiers]
    program = Program.load()
    start, end = evaluation_window(as_of, program)
    tier, floor, account = _t(Tier), _t(TierFloor), _t(Account)
    sql = f"""
        WITH q AS ({qualifying_sql("1 = 1")}),
        floors AS (
            SELECT f.member_id, MAX(ft.rank) AS floor_rank
            FROM {floor} f JOIN {tier} ft ON ft.id = f.tier_id
            WHERE f.until >= %(as_of)s GROUP BY f.member_id
        ),
        e AS (
            SELECT {_tier_rank_sql("a.tier_id", current)} AS cur_rank,
                   {rank_case_sql("COALESCE(q.pts, 0)", proposed)} AS earned_rank,
                   fl.floor_rank
            FROM {account} a
            LEFT JOIN q ON q.member_id = a.member_id
            LEFT JOIN floors fl ON fl.member_id = a.member_id
        ),
        r AS (
            SELECT cur_rank,
                   CASE WHEN floor_rank > earned_rank THEN floor_rank ELSE earned_rank END
                       AS new_rank
            FROM e
        )
        SELECT rank, SUM(now_n), SUM(new_n), SUM(moving_in), SUM(moving_out) FROM (
            SELECT new_rank AS rank, 0 AS now_n, 1 AS new_n,
                   CASE WHEN new_rank <> cur_rank THEN 1 ELSE 0 END AS moving_in,
                   0 AS moving_out
            FROM r
            UNION ALL
            SELECT cur_rank, 1, 0, 0, CASE WHEN new_rank <> cur_rank THEN 1 ELSE 0 END FROM r
        ) s
        GROUP BY rank
    """  # noqa: S608 (names from model metadata, integers from the ladder)
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "start": ops.adapt_datetimefield_value(start),
                "end": ops.adapt_datetimefield_value(end),
                "as_of": ops.adapt_datefield_value(as_of),
            },
        )
        by_rank = {row[0]: [int(value or 0) for value in row[1:]] for row in cursor.fetchall()}
    rows = []
    for t, (_pk, _rank, points) in zip(tiers, proposed, strict=True):
        now_n, new_n, moving_in, moving_out = by_rank.get(t.rank, [0, 0, 0, 0])
        rows.append(
            WhatIfRow(
                tier=t,
                min_points=t.min_points,
                proposed_min_points=points,
                members_now=now_n,
                members=new_n,
                moving_in=moving_in,
                moving_out=moving_out,
            )
        )
    return rows
