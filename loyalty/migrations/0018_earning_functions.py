"""The earning engine's I/O in the database: `loyalty_earning_snapshot` reads the members'
state under their account locks, `loyalty_earning_write` writes a plan (loyalty/earning/;
docs/adr/0013-one-earning-engine.md). Neither holds a rule."""

from django.db import migrations

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0017_categories_normalised_data"),
        ("members", "0003_dashboard_page_versions"),
    ]

    operations = [
        run_files(["0018_earning_functions.pg.sql"], ["0018_earning_functions.reverse.pg.sql"]),
    ]
