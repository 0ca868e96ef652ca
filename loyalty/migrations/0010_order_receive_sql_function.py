"""`loyalty_order_receive(...)`: one well-formed `order.received` event applied in
one round trip (docs/adr/0008-one-round-trip-ingestion.md).

It mirrors `loyalty.earning.event_ingest` + `order_receive` statement for statement: the member,
the account row lock, the event row (unique per API key and event id: a replay answers the
stored answer), the order (unique number: SQLSTATE LY409 rolls the whole event back), the
shopping points cut to their cap, the same-day category bonus, the campaigns (by tier and
category), lots that repay a debt first, the balance and the stored answer. The reason texts are
the translated templates Python passes in (`p_texts`), formatted by `loyalty_fmt`.
"""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0009_tierchange_from_floor"),
    ]

    operations = [
        run_files(
            ["0010_order_receive_sql_function.pg.sql"],
            ["0010_order_receive_sql_function.reverse.pg.sql"],
        ),
    ]
