"""The page-version triggers and functions get names that say what they do
(`portal_bump_member_version_on_insert`, `portal_bump_program_version_on_write`, ...) and
their SQL moves to portal/sql/page_versions.pg.sql; the program-wide scopes of core.cache get
theirs. The old names are dropped; the reverse puts them back (_page_versions_0001)."""

from django.db import migrations

from . import _page_versions_0001 as old


def _drop_interim(schema_editor) -> None:
    """Scope triggers named in the old style by an earlier build of this change."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE '%%\\_pv\\_%%' AND NOT t.tgisinternal"
        )
        for table, name in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        cursor.execute("DROP FUNCTION IF EXISTS members_pageversion_bump_scope()")


def forward(apps, schema_editor) -> None:
    from portal import page_versions

    old.uninstall(schema_editor.connection)
    _drop_interim(schema_editor)
    page_versions.install(schema_editor.connection)


def backward(apps, schema_editor) -> None:
    from portal import page_versions

    page_versions.uninstall(schema_editor.connection)
    old.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("members", "0006_notices_and_page_versions_to_portal"),
    ]

    operations = [migrations.RunPython(forward, backward)]
