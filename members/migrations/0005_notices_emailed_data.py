"""Notices written before `emailed_at` existed were emailed (or, for coupons, their coupon was):
mark them so the sweep does not send them again."""

from django.db import migrations
from django.db.models import F


def mark(apps, schema_editor):
    apps.get_model("members", "Notice").objects.filter(emailed_at=None).update(
        emailed_at=F("created_at")
    )


def unmark(apps, schema_editor):
    apps.get_model("members", "Notice").objects.update(emailed_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_notice_emailed_at"),
    ]

    operations = [migrations.RunPython(mark, unmark)]
