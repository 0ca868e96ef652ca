"""Versions of what the dashboard shows, bumped by the database itself.

The dashboard's cards are cached as one rendered fragment per member (portal/views.py). The
fragment's key holds two counters from `members_pageversion`:

- the member's own row (`scope` = member id), bumped by every INSERT, UPDATE or DELETE of a row
  that belongs to the member in the tables of `MEMBER_TABLES` (ledger, lots, account, coupons,
  notices, tier changes and floors, orders, RSVPs, reward exchanges, the member row itself,
  their email addresses);
- the global row (`scope` = 0), bumped by any change of the program-wide tables of
  `GLOBAL_TABLES` (program settings, tiers, rules, campaigns, coupon templates, benefits,
  brands and the brand of the week, sales, events, rewards).

Triggers do the bumping, so no write path can forget it: services, set-based jobs (one
INSERT ... SELECT), bulk_create, the admin, raw SQL and the shell all pass through them. On
PostgreSQL the member triggers are statement-level with transition tables (one upsert per
statement, members locked in id order). The SQL is in `sql/page_versions.pg.sql`, and each
trigger's name says what it bumps and on what (`portal_bump_member_version_on_insert`,
`portal_bump_program_version_on_write`, `portal_bump_ladder_version_on_write`, ...).
`install()` runs in the migrations and again after every `migrate` (an UPDATE trigger lists
the columns it watches, so a column added later must be added to it), and
`tests/portal/test_dashboard_cache.py` checks each table has them.

The narrower program-wide scopes (`SCOPE_TABLES`, negative `scope`s: core.cache.Scope) are
bumped the same way, each by the tables its cached data reads (the program settings, the
earning engine's program, the ladder, the showcase): core.cache keys those reads on them.

Counters that the dashboard does not show are left out of the global triggers
(`GLOBAL_IGNORED`), so a coupon issued or a seat taken does not drop every member's fragment;
a reward's stock counts only when it runs out or comes back (`GLOBAL_FLIPS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection as default_connection

from core.cache import Scope

GLOBAL_KEY = int(Scope.PROGRAM_WIDE)

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

# The narrower scopes of program-wide data (core.cache.Scope), each with its own version: the
# tables that bump it, with the columns an UPDATE must change to count (None: any column but
# the ignored counters, as the global's). The program
# settings' version moves only with the Program row, the earning engine's with what it reads
# (a brand, a sale or a tier's name moves neither).
SCOPE_TABLES: dict[int, dict[str, list[str] | None]] = {
    Scope.PROGRAM_SETTINGS: {"loyalty_program": None},
    Scope.EARNING: {
        "loyalty_program": None,
        "loyalty_earningrule": None,
        "loyalty_campaign": None,
        "loyalty_campaign_tiers": None,
        "loyalty_tier": ["min_points"],  # the base tier (the one at 0 points)
    },
    Scope.LADDER: {"loyalty_tier": None},
    Scope.SHOWCASE: {
        "benefits_brand": None,
        "benefits_featuredbrand": None,
        "benefits_featuredbranddiscount": None,
        "benefits_sale": None,
        "benefits_saleearlyaccess": None,
        "benefits_memberevent": None,
        "benefits_memberevent_eligible_tiers": None,
        "benefits_reward": None,
        "benefits_reward_eligible_tiers": None,
        "loyalty_tier": ["min_points"],  # the base tier
    },
}

# A PostgreSQL statement that changes rows of more members than this bumps the program's
# version once instead of each member's (the monthly tier job, the birthday coupons of a day).
MANY_MEMBERS = 1000

# A version is the clock in microseconds (or one more than the last, if the clock is behind):
# never reused, so a database recreated or restored under a live cache cannot meet a fragment
# cached under the same numbers for other data.
PG_NOW = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
PG_NEXT = f"GREATEST(members_pageversion.version + 1, {PG_NOW})"

# A writer that bumps its members' versions itself, once, after its last write sets this
# (transaction-local) setting to 'on' for the span of its writes, all of them for those
# members; the member triggers then skip (their WHEN clause: the function is not even called).
# The earning engine's write does (loyalty_earning_write, loyalty migration 0018): one
# statement's writes to four tables, one bump, instead of four trigger calls. The writer clears it before its
# explicit bump, and an error rolls it back with the writes, so no later write of the
# transaction can pass unbumped; tests/portal/test_dashboard_cache.py checks both.
PG_DEFERRED_SETTING = "members.pv_deferred"
PG_NOT_DEFERRED = f"COALESCE(current_setting('{PG_DEFERRED_SETTING}', true), '') <> 'on'"


@contextmanager
def versions_kept(connection: Any = default_connection) -> Iterator[None]:
    """Writes inside leave the member versions alone (the member triggers skip them): for a
    column no page shows, such as a notice's `emailed_at`, so the write takes no member's
    version row lock. Transaction-local; must run inside a transaction."""
    assert connection.in_atomic_block, "versions_kept inside a transaction"
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PG_DEFERRED_SETTING])
        try:
            yield
        finally:
            cursor.execute("SELECT set_config(%s, '', true)", [PG_DEFERRED_SETTING])


def scopes_of_tables() -> dict[str, set[int]]:
    """{table: the program-wide scopes its writes bump} (core.cache watches them)."""
    found: dict[str, set[int]] = {table: {GLOBAL_KEY} for table in GLOBAL_TABLES}
    for scope, tables in SCOPE_TABLES.items():
        for table in tables:
            found.setdefault(table, set()).add(int(scope))
    return found


def versions_read(connection: Any = default_connection) -> dict[int, int]:
    """{scope: version} of every program-wide scope, in one query (core.cache's source)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT scope, version FROM members_pageversion WHERE scope <= 0")
        return {int(scope): int(version) for scope, version in cursor.fetchall()}


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _columns(cursor: Any, connection: Any, table: str) -> list[str]:
    return [c.name for c in connection.introspection.get_table_description(cursor, table)]


SQL_FILE = Path(__file__).resolve().parent / "sql" / "page_versions.pg.sql"


def _statements() -> dict[str, str]:
    """The file's statements by name (each follows a `-- name: <name>` line)."""
    found: dict[str, str] = {}
    name = ""
    for line in SQL_FILE.read_text().splitlines(keepends=True):
        if line.startswith("-- name: "):
            name = line.removeprefix("-- name: ").strip()
            found[name] = ""
        elif name:
            found[name] += line
    return found


def _fill(template: str, **values: object) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def _scope_name(scope: int) -> str:
    return "program" if scope == GLOBAL_KEY else Scope(scope).name.lower()


# The triggers each table may have (their names say what they bump and on what).
MEMBER_EVENTS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


def trigger_names(table: str) -> list[str]:
    """Every name a trigger of this module may have on `table`."""
    names = [f"portal_bump_member_version_on_{event}" for event in MEMBER_EVENTS]
    for scope in [GLOBAL_KEY, *SCOPE_TABLES]:
        names += [
            f"portal_bump_{_scope_name(scope)}_version_on_write",
            f"portal_bump_{_scope_name(scope)}_version_on_change",
        ]
    return names


def _scope_triggers(
    cursor: Any, connection: Any, sql: dict[str, str], table: str, scope: int, columns: Any
) -> None:
    """A program-wide scope's triggers on `table`: writes of every column but the ignored
    counters (`columns` None) and their flips, or real changes of `columns` only."""
    if scope == GLOBAL_KEY:
        function, argument = "portal_bump_program_version", ""
    else:
        function, argument = "portal_bump_scope_version", f"'{int(scope)}'"
    common = {
        "scope_name": _scope_name(scope),
        "table": table,
        "function": function,
        "argument": argument,
    }
    if columns is None:
        watched = [
            c for c in _columns(cursor, connection, table) if c not in GLOBAL_IGNORED.get(table, ())
        ]
        update = f"OR UPDATE OF {_quoted(watched)}"
        cursor.execute(_fill(sql["scope_trigger_on_write"], update=update, **common))
        if table in GLOBAL_FLIPS:
            column, condition = GLOBAL_FLIPS[table]
            changed = (
                f"{condition.replace('R.', 'OLD.')} IS DISTINCT FROM "
                f"{condition.replace('R.', 'NEW.')}"
            )
            cursor.execute(
                _fill(
                    sql["scope_trigger_on_change"],
                    columns=_quoted([column]),
                    changed=changed,
                    **common,
                )
            )
        return
    cursor.execute(_fill(sql["scope_trigger_on_write"], update="", **common))
    changed = " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in columns)
    cursor.execute(
        _fill(sql["scope_trigger_on_change"], columns=_quoted(columns), changed=changed, **common)
    )


def _drop_triggers(cursor: Any, tables: set[str]) -> None:
    for table in sorted(tables & set(_all_tables())):
        for name in trigger_names(table):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')


def _all_tables() -> list[str]:
    return [t for t, _c in MEMBER_TABLES] + list(scopes_of_tables())


def _postgres(cursor: Any, connection: Any, tables: set[str]) -> None:
    sql = _statements()
    cursor.execute(_fill(sql["functions"], limit=MANY_MEMBERS, next=PG_NEXT, now=PG_NOW))
    for column in sorted({column for _table, column in MEMBER_TABLES}):
        assert column.isidentifier(), column
        cursor.execute(_fill(sql["member_function"], column=column, more=MANY_MEMBERS + 1))
    _drop_triggers(cursor, tables)
    for table, column in MEMBER_TABLES:
        if table not in tables:
            continue
        for event_name, event in MEMBER_EVENTS.items():
            if table == "loyalty_pointentry" and event != "INSERT":
                continue  # append-only: another trigger refuses UPDATE and DELETE
            transition = {
                "INSERT": "NEW TABLE AS pv_new",
                "UPDATE": "OLD TABLE AS pv_old NEW TABLE AS pv_new",
                "DELETE": "OLD TABLE AS pv_old",
            }[event]
            cursor.execute(
                _fill(
                    sql["member_trigger"],
                    event_name=event_name,
                    event=event,
                    table=table,
                    transition=transition,
                    not_deferred=PG_NOT_DEFERRED,
                    column=column,
                )
            )
    for table in GLOBAL_TABLES:
        if table in tables:
            _scope_triggers(cursor, connection, sql, table, GLOBAL_KEY, None)
    for scope, scoped in SCOPE_TABLES.items():
        for table, columns in scoped.items():
            if table in tables:
                _scope_triggers(cursor, connection, sql, table, scope, columns)


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
        _drop_triggers(cursor, tables)
        for column in sorted({column for _table, column in MEMBER_TABLES}):
            cursor.execute(f"DROP FUNCTION IF EXISTS portal_bump_member_versions_by_{column}()")
        cursor.execute(_statements()["drop_functions"])


def installed_triggers(connection: Any = default_connection) -> dict[str, set[str]]:
    """{table: trigger names} of this module's triggers, from the catalogue."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'portal\\_bump\\_%%' AND NOT t.tgisinternal"
        )
        found: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            found.setdefault(table, set()).add(name)
        return found
