"""Settings for the test suite. DATABASE_URL and REDIS_URL, when set, point at real servers.

Under pytest-xdist (`pytest -n 2`) each worker has its own test database (pytest-django adds
the worker's name) and, with Redis, its own Redis database (10, 11...): the tests empty the
cache between them, and Redis empties a whole database at once."""

import os
from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F403
from .base import CACHES, REDIS_URL, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]
# Every write in a test goes through this process (core.cache sees it): no clock decides.
CACHE_VERSION_SECONDS = 600.0
# Webhooks may go to a receiver on this machine (http://127.0.0.1:...).
WEBHOOKS_ALLOW_PRIVATE_URLS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if not env("REDIS_URL", default=""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _WORKER.startswith("gw"):
    _url = urlsplit(REDIS_URL)
    CACHES["default"]["LOCATION"] = urlunsplit(_url._replace(path=f"/{10 + int(_WORKER[2:])}"))
