"""A tier run's chunk records when it was done and whether its follow-ups (level-up rewards,
notices) are done, so a rerun finishes them from the database's state."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0019_drop_order_receive_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="tierrunchunk",
            name="done_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="tierrunchunk",
            name="notices_done",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="tierrunchunk",
            name="rewards_done",
            field=models.BooleanField(default=False),
        ),
    ]
