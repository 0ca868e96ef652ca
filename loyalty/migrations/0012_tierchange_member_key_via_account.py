"""The tier change's member key references the member's account.

Every tier change is written for a member with an account (the job evaluates accounts; an
instant upgrade and a floor lock the account first), and the account references the member,
so the member key is still enforced, one step removed. The monthly job updates the same
account rows in the same transaction, so the key's check at COMMIT (SELECT ... FOR KEY SHARE)
locks a row already in shared buffers and already dirtied, where the key to members_member
read and dirtied a cold member row per move (a random read and a full-page image in the WAL).
Deferrable, initially deferred, as Django's own keys. The model says db_constraint=False so
Django manages neither.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ._sql import run_files


class Migration(migrations.Migration):

    dependencies = [
        ("loyalty", "0011_order_receive_memo_checks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="tierchange",
                    name="member",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tier_changes",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="member",
                    ),
                ),
            ],
            database_operations=[
                run_files(
                    ["0012_tierchange_member_key_via_account.pg.sql"],
                    ["0012_tierchange_member_key_via_account.reverse.pg.sql"],
                )
            ],
        ),
    ]
