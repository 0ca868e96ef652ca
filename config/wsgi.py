import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django_application = get_wsgi_application()

# POST /api/v1/events/ answered in front of the stack when it can be (loyalty/api/fast.py).
from loyalty.api.fast import EventsFastPath  # noqa: E402 (needs the app registry)

application = EventsFastPath(django_application)
