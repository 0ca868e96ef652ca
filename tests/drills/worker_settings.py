"""Settings of a drill's Celery worker subprocess: the test settings, pointed at the test
run's database (DRILL_DATABASE, JSON), the drill's broker (DRILL_BROKER_URL and its transport
options, DRILL_BROKER_OPTIONS, JSON: kombu's filesystem transport under the drill's directory,
or Redis database 6 with the visibility timeout the drill chooses, i.e. how soon an
unacknowledged task of a killed worker is delivered again) and the file email backend
(DRILL_DIR/mail)."""

import json
import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

DATABASES["default"].update(json.loads(os.environ["DRILL_DATABASE"]))
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_BROKER_URL = os.environ["DRILL_BROKER_URL"]
CELERY_BROKER_TRANSPORT_OPTIONS = json.loads(os.environ["DRILL_BROKER_OPTIONS"])
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(os.environ["DRILL_DIR"], "mail")
