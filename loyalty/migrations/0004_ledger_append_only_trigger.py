"""A trigger refuses UPDATE and DELETE on the point entries (append-only)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_pointentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_pointentry is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER loyalty_pointentry_append_only
    BEFORE UPDATE OR DELETE ON loyalty_pointentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_pointentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_pointentry_append_only ON loyalty_pointentry;
DROP FUNCTION IF EXISTS loyalty_pointentry_append_only();
"""


def create_trigger(apps, schema_editor):
    schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0003_ledger_lots_rules_events"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
    ]
