"""The inbox's notices and the dashboard's page versions now belong to the portal app.

Only Django's record of the models moves: the tables keep their names (`members_notice`,
`members_pageversion`, the portal models' `db_table`) and their rows, indexes and triggers.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0005_notices_emailed_data"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="notice", name="member"),
                migrations.DeleteModel(name="PageVersion"),
                migrations.DeleteModel(name="Notice"),
            ],
            database_operations=[],
        ),
    ]
