"""Chunks done before follow-ups were recorded: their follow-ups were queued then; mark them
done so the hourly rerun does not issue rewards for old periods."""

from django.db import migrations
from django.utils import timezone


def mark(apps, schema_editor):
    chunks = apps.get_model("loyalty", "TierRunChunk").objects
    for run in apps.get_model("loyalty", "TierRun").objects.only("pk", "finished_at"):
        chunks.filter(run_id=run.pk, done=True).update(
            rewards_done=True, notices_done=True, done_at=run.finished_at or timezone.now()
        )


def unmark(apps, schema_editor):
    apps.get_model("loyalty", "TierRunChunk").objects.update(
        rewards_done=False, notices_done=False, done_at=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0020_tierrunchunk_follow_ups"),
    ]

    operations = [migrations.RunPython(mark, unmark)]
