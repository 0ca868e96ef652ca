"""Local development: `make run`. Debug on, console email, embedded defaults."""

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only-key-0123456789abcdef"  # noqa: S105
