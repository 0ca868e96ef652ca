"""The Celery application: reads the CELERY_* settings and autodiscovers each app's tasks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("member_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
