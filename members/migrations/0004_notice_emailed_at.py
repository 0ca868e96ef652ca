"""Notices record when their email went out; a partial index of those still to email."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_dashboard_page_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="emailed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="emailed"),
        ),
        migrations.AddIndex(
            model_name="notice",
            index=models.Index(
                condition=models.Q(("emailed_at", None)),
                fields=["created_at"],
                name="notice_to_email",
            ),
        ),
    ]
