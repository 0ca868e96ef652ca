"""`loyalty_order_receive` without cache round trips, and its reasons formatted by format().

- A 17th parameter, `p_program_version`: the program's page version (portal.page_versions)
  under which the caller read the settings it passed (the local day and its bounds, the lots'
  expiry). When given, the function first answers `stale` if the settings changed since, and
  `key_refused` if the API key was revoked, writing nothing: the events fast path
  (loyalty/api/fast.py, docs/adr/0009-events-in-front-of-the-stack.md) keeps both in
  per-process memos instead of reading them from the cache on every event. NULL: no check
  (the callers that read both fresh).
- The reason templates arrive positional (`%1$s`; `loyalty.receive_sql.TEXT_ARGS`) and are
  formatted by PostgreSQL's format(), one C call, instead of `loyalty_fmt`'s loop over
  jsonb arguments (about 20 us per reason on the project's machine, several per event).
  `loyalty_fmt` stays for the reverse migration.
- Fewer statements: the member and their account lock in one, both earning rules in one, a
  cap's earnings and their reversals in one.
- One page-version bump per event instead of one per write: the function sets
  `members.pv_deferred` for the span of its writes (all of them the member's), which the
  member triggers' WHEN clause skips on (portal.page_versions.PG_DEFERRED_SETTING), and bumps
  the member once after the last write. The triggers cost about 30 % of the function's time.
"""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0010_order_receive_sql_function"),
        ("members", "0003_dashboard_page_versions"),
    ]

    operations = [
        run_files(
            ["0011_order_receive_memo_checks.pg.sql"],
            [
                "0011_order_receive_memo_checks.reverse.pg.sql",
                "0010_order_receive_sql_function.pg.sql",
            ],
        ),
    ]
