"""Fewer indexes on the tables every posting writes (each index is paid on each insert).

- Keys whose column already leads another index lose their own: the entry's member (the
  history index), the event's API key (its unique key), the order's member (order_member_day),
  the lot's member (lot_member_fifo).
- Keys that are mostly empty get partial indexes of their non-null rows: the entry's reversed
  entry, staff user and campaign (an earning from the shop has none of them).
- `entry_qualifying` goes: every qualifying-points query is per member or grouped by member
  and uses `entry_member_qualifying`.
- The tier change's tier keys lose theirs: no query looks changes up by tier.
- The `varchar_pattern_ops` copy that Django adds beside the order number's
  unique index: no query matches order numbers by prefix (the admin searches with `icontains`).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ._sql import run_files


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0013_account_tier_without_index"),
        ("members", "0003_dashboard_page_versions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="pointentry",
            name="entry_qualifying",
        ),
        migrations.AlterField(
            model_name="event",
            name="api_key",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.apikey",
                verbose_name="API key",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="loyalty_orders",
                to=settings.AUTH_USER_MODEL,
                verbose_name="member",
            ),
        ),
        migrations.AlterField(
            model_name="pointentry",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="loyalty.campaign",
                verbose_name="campaign",
            ),
        ),
        migrations.AlterField(
            model_name="pointentry",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="staff user",
            ),
        ),
        migrations.AlterField(
            model_name="pointentry",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="point_entries",
                to=settings.AUTH_USER_MODEL,
                verbose_name="member",
            ),
        ),
        migrations.AlterField(
            model_name="pointentry",
            name="reverses",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversals",
                to="loyalty.pointentry",
                verbose_name="reverses",
            ),
        ),
        migrations.AlterField(
            model_name="pointlot",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="tierchange",
            name="from_tier",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="loyalty.tier",
                verbose_name="from",
            ),
        ),
        migrations.AlterField(
            model_name="tierchange",
            name="to_tier",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="loyalty.tier",
                verbose_name="to",
            ),
        ),
        migrations.AddIndex(
            model_name="pointentry",
            index=models.Index(
                condition=models.Q(("reverses__isnull", False)),
                fields=["reverses"],
                name="entry_reverses",
            ),
        ),
        migrations.AddIndex(
            model_name="pointentry",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="entry_by_staff",
            ),
        ),
        migrations.AddIndex(
            model_name="pointentry",
            index=models.Index(
                condition=models.Q(("campaign__isnull", False)),
                fields=["campaign"],
                name="entry_campaign",
            ),
        ),
        run_files(
            ["0014_fewer_indexes_on_writes.pg.sql"],
            ["0014_fewer_indexes_on_writes.reverse.pg.sql"],
        ),
    ]
