"""The dashboard's versions: a counter table and the triggers that bump it (portal.page_versions).

The triggers are (re)installed after every `migrate` too (members.apps): an UPDATE trigger names
the columns it watches, and a later migration may add one.
"""

from django.db import migrations, models


def install(apps, schema_editor):
    from portal.page_versions import install as install_triggers

    install_triggers(schema_editor.connection)


def uninstall(apps, schema_editor):
    from portal.page_versions import uninstall as uninstall_triggers

    uninstall_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0002_experience_notices"),
        ("loyalty", "0006_tiers2_instant_upgrade"),
        ("benefits", "0004_reward_categories"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.CreateModel(
            name="PageVersion",
            fields=[
                ("scope", models.BigIntegerField(primary_key=True, serialize=False, verbose_name="scope")),
                ("version", models.BigIntegerField(default=1, verbose_name="version")),
            ],
            options={"verbose_name": "page version", "verbose_name_plural": "page versions"},
        ),
        migrations.RunPython(install, uninstall),
    ]
