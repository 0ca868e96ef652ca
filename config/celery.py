"""The Celery application: reads the CELERY_* settings and autodiscovers the tasks of each app and domain package."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("member_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The domain packages keep their own tasks modules (loyalty/tiers/tasks.py, ...).
app.autodiscover_tasks(
    ["loyalty.ledger", "loyalty.tiers", "benefits.coupons", "benefits.engagement"]
)
