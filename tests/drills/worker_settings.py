"""Settings of a drill's Celery worker subprocess: the test settings, pointed at the test
run's database (DRILL_DATABASE, JSON), Redis database 6 as the broker (DRILL_BROKER_URL), the
file email backend (DRILL_DIR/mail) and a visibility timeout the drill chooses (how soon an
unacknowledged task of a killed worker is delivered again)."""

import json
import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

DATABASES["default"].update(json.loads(os.environ["DRILL_DATABASE"]))
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_BROKER_URL = os.environ["DRILL_BROKER_URL"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("DRILL_VISIBILITY_TIMEOUT", "3600")),
    # look for unacknowledged messages past their timeout every second (default: ~100 s)
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(os.environ["DRILL_DIR"], "mail")
