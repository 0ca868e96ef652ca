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

from django.db import migrations, models
import django.db.models.deletion
from django.conf import settings

TABLE = "loyalty_tierchange"
ACCOUNT_KEY = "tierchange_member_account_fk"
MEMBER_KEY = "loyalty_tierchange_member_id_fk_members_member_id"


def _member_id_keys(schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [
        name
        for name, info in constraints.items()
        if info["foreign_key"] and info["columns"] == ["member_id"]
    ]


def _replace_key(schema_editor, *, references):
    name = ACCOUNT_KEY if references == "loyalty_account" else MEMBER_KEY
    column = "member_id" if references == "loyalty_account" else "id"
    for old in _member_id_keys(schema_editor):
        schema_editor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{old}"')
    schema_editor.execute(
        f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" FOREIGN KEY (member_id) '
        f"REFERENCES {references} ({column}) DEFERRABLE INITIALLY DEFERRED"
    )


def to_account(apps, schema_editor):
    _replace_key(schema_editor, references="loyalty_account")


def to_member(apps, schema_editor):
    _replace_key(schema_editor, references="members_member")


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
            database_operations=[migrations.RunPython(to_account, to_member)],
        ),
    ]
