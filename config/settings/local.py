"""Local development: `make run`. Debug on, console email, embedded defaults."""

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only-key-0123456789abcdef"  # noqa: S105
# The console email backend prints to stdout; Celery logs a worker's stdout at WARNING by
# default, which floods `make run`'s console with warnings for every email.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
# Webhooks may go to a receiver on this machine (http://127.0.0.1:...).
WEBHOOKS_ALLOW_PRIVATE_URLS = True
