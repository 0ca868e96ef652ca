"""The page-version triggers as they were before their names said what they do (frozen: the
reverse of portal migration 0002 puts these back; never changes)."""

from __future__ import annotations

from typing import Any

from django.db import connection as default_connection

GLOBAL_KEY = 0

# (table, column holding the member id)
MEMBER_TABLES: list[tuple[str, str]] = [
    ("members_member", "id"),
    ("account_emailaddress", "user_id"),
    ("members_notice", "member_id"),
    ("loyalty_account", "member_id"),
    ("loyalty_pointentry", "member_id"),
    ("loyalty_pointlot", "member_id"),
    ("loyalty_tierchange", "member_id"),
    ("loyalty_tierfloor", "member_id"),
    ("loyalty_order", "member_id"),
    ("benefits_coupon", "member_id"),
    ("benefits_eventrsvp", "member_id"),
    ("benefits_rewardexchange", "member_id"),
]

GLOBAL_TABLES: list[str] = [
    "loyalty_program",
    "loyalty_tier",
    "loyalty_earningrule",
    "loyalty_campaign",
    "loyalty_campaign_tiers",
    "benefits_coupontemplate",
    "benefits_coupontemplate_eligible_tiers",
    "benefits_benefit",
    "benefits_tierbenefit",
    "benefits_brand",
    "benefits_featuredbrand",
    "benefits_featuredbranddiscount",
    "benefits_sale",
    "benefits_saleearlyaccess",
    "benefits_memberevent",
    "benefits_memberevent_eligible_tiers",
    "benefits_reward",
    "benefits_reward_eligible_tiers",
]

# Columns whose UPDATE alone does not change the dashboard (counters moved by members' own
# writes): updating only these bumps nothing.
GLOBAL_IGNORED: dict[str, set[str]] = {
    "benefits_coupontemplate": {"issued_count"},
    "benefits_memberevent": {"seats_taken"},
    "benefits_reward": {"stock"},
}

# Ignored columns that matter when they cross a line: (column, condition on a row `R`). An
# UPDATE of the column bumps the program's version only when the condition flips (a reward
# going out of stock leaves the recommendations; one fewer in stock changes nothing shown).
GLOBAL_FLIPS: dict[str, tuple[str, str]] = {
    "benefits_reward": ("stock", "(R.stock IS NULL OR R.stock > 0)"),
}

# A PostgreSQL statement that changes rows of more members than this bumps the program's
# version once instead of each member's (the monthly tier job, the birthday coupons of a day).
MANY_MEMBERS = 1000

# A version is the clock in microseconds (or one more than the last, if the clock is behind):
# never reused, so a database recreated or restored under a live cache cannot meet a fragment
# cached under the same numbers for other data.
PG_NOW = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
PG_NEXT = f"GREATEST(members_pageversion.version + 1, {PG_NOW})"

PG_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION members_pageversion_bump(ids bigint[]) RETURNS void AS $$
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(ids) > {limit} THEN
        -- A set-based job touched many members: one bump of the program's version (every
        -- fragment's key holds it) instead of a row per member.
        INSERT INTO members_pageversion (scope, version) VALUES (0, {now})
        ON CONFLICT (scope) DO UPDATE SET version = {next};
        RETURN;
    END IF;
    INSERT INTO members_pageversion (scope, version)
    SELECT scope, {now} FROM unnest(ids) AS scope ORDER BY 1
    ON CONFLICT (scope) DO UPDATE SET version = {next};
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION members_pageversion_bump_global() RETURNS trigger AS $$
BEGIN
    INSERT INTO members_pageversion (scope, version) VALUES (0, {now})
    ON CONFLICT (scope) DO UPDATE SET version = {next};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""".replace("{limit}", str(MANY_MEMBERS))
    .replace("{next}", PG_NEXT)
    .replace("{now}", PG_NOW)
)

# A writer that bumps its members' versions itself, once, after its last write sets this
# (transaction-local) setting to 'on' for the span of its writes, all of them for those
# members; the member triggers then skip (their WHEN clause: the function is not even called).
# The earning engine's write does (loyalty_earning_write, loyalty migration 0018): one
# statement's writes to four tables, one bump, instead of four trigger calls. The writer clears it before its
# explicit bump, and an error rolls it back with the writes, so no later write of the
# transaction can pass unbumped; tests/portal/test_dashboard_cache.py checks both.
PG_DEFERRED_SETTING = "members.pv_deferred"
PG_NOT_DEFERRED = f"COALESCE(current_setting('{PG_DEFERRED_SETTING}', true), '') <> 'on'"

# One trigger function per member column, with static SQL (plans cached per trigger): the
# distinct member ids of the statement's rows, at most MANY_MEMBERS + 1 of them.
PG_MEMBER_FUNCTION = """
CREATE OR REPLACE FUNCTION members_pageversion_bump_by_{column}() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(m) INTO ids FROM (
            SELECT DISTINCT {column} AS m FROM pv_new WHERE {column} IS NOT NULL LIMIT {more}
        ) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(m) INTO ids FROM (
            SELECT DISTINCT {column} AS m FROM pv_old WHERE {column} IS NOT NULL LIMIT {more}
        ) AS d;
    ELSE
        SELECT array_agg(m) INTO ids FROM (
            SELECT m FROM (
                SELECT {column} AS m FROM pv_new UNION SELECT {column} FROM pv_old
            ) AS c WHERE m IS NOT NULL LIMIT {more}
        ) AS d;
    END IF;
    PERFORM members_pageversion_bump(ids);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _pg_member_function(column: str) -> str:
    assert column.isidentifier(), column
    return PG_MEMBER_FUNCTION.replace("{column}", column).replace("{more}", str(MANY_MEMBERS + 1))


def _trigger_names(table: str) -> list[str]:
    return [f"{table}_pv_{suffix}" for suffix in ("ins", "upd", "del", "trunc", "flip")]


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _columns(cursor: Any, connection: Any, table: str) -> list[str]:
    return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def _postgres(cursor: Any, connection: Any, tables: set[str]) -> None:
    cursor.execute(PG_FUNCTIONS)
    for column in sorted({column for _table, column in MEMBER_TABLES}):
        cursor.execute(_pg_member_function(column))
    for table, column in MEMBER_TABLES:
        if table not in tables:
            continue
        for name in _trigger_names(table):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        ins, upd, dele, _trunc, flip_name = _trigger_names(table)
        for name, event, ref in (
            (ins, "INSERT", "NEW TABLE AS pv_new"),
            (upd, "UPDATE", "OLD TABLE AS pv_old NEW TABLE AS pv_new"),
            (dele, "DELETE", "OLD TABLE AS pv_old"),
        ):
            if table == "loyalty_pointentry" and event != "INSERT":
                continue  # append-only: another trigger refuses UPDATE and DELETE
            cursor.execute(
                f'CREATE TRIGGER "{name}" AFTER {event} ON "{table}" REFERENCING {ref} '
                f"FOR EACH STATEMENT WHEN ({PG_NOT_DEFERRED}) "
                f"EXECUTE FUNCTION members_pageversion_bump_by_{column}()"
            )
    for table in GLOBAL_TABLES:
        if table not in tables:
            continue
        for name in _trigger_names(table):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        ins, upd, _dele, _trunc, flip_name = _trigger_names(table)
        watched = [
            c for c in _columns(cursor, connection, table) if c not in GLOBAL_IGNORED.get(table, ())
        ]
        cursor.execute(
            f'CREATE TRIGGER "{ins}" AFTER INSERT OR DELETE OR TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION members_pageversion_bump_global()"
        )
        cursor.execute(
            f'CREATE TRIGGER "{upd}" AFTER UPDATE OF {_quoted(watched)} '
            f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION members_pageversion_bump_global()'
        )
        if table in GLOBAL_FLIPS:
            column, condition = GLOBAL_FLIPS[table]
            flip = flip_name
            cursor.execute(
                f'CREATE TRIGGER "{flip}" AFTER UPDATE OF "{column}" ON "{table}" FOR EACH ROW '
                f"WHEN ({condition.replace('R.', 'OLD.')} IS DISTINCT FROM "
                f"{condition.replace('R.', 'NEW.')}) "
                "EXECUTE FUNCTION members_pageversion_bump_global()"
            )


def install(connection: Any = default_connection) -> None:
    """(Re)create every trigger; idempotent. Tables that do not exist yet are skipped."""
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if "members_pageversion" not in tables:
            return
        _postgres(cursor, connection, tables)


def uninstall(connection: Any = default_connection) -> None:
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table in [t for t, _c in MEMBER_TABLES] + GLOBAL_TABLES:
            if table not in tables:
                continue
            for name in _trigger_names(table):
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        for column in sorted({column for _table, column in MEMBER_TABLES}):
            cursor.execute(f"DROP FUNCTION IF EXISTS members_pageversion_bump_by_{column}()")
        cursor.execute("DROP FUNCTION IF EXISTS members_pageversion_bump(bigint[])")
        cursor.execute("DROP FUNCTION IF EXISTS members_pageversion_bump_global()")


def installed_triggers(connection: Any = default_connection) -> dict[str, set[str]]:
    """{table: trigger names} of this module's triggers, from the catalogue."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE '%%_pv_%%' AND NOT t.tgisinternal"
        )
        found: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            found.setdefault(table, set()).add(name)
        return found
