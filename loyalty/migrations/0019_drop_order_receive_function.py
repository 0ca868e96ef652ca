"""The PL/pgSQL copy of the earning rules (`loyalty_order_receive` and its helpers, migrations
0010 and 0011) goes: every earning rule is now the planner's (loyalty/earning/planner.py).
Reversible: undoing it loads 0010's and 0011's files again."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0018_earning_functions"),
    ]

    operations = [
        run_files(
            ["0019_drop_order_receive_function.pg.sql"],
            ["0010_order_receive_sql_function.pg.sql", "0011_order_receive_memo_checks.pg.sql"],
        ),
    ]
