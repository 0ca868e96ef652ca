"""`POST /api/v1/events/` in front of Django's handler (docs/adr/0009-events-in-front-of-the-stack.md).

The shop reports one event per request at hundreds of requests a second, and nearly all of
them are the same shape: a well-formed `order.received` with a valid API key. On PostgreSQL
that event is one statement (`loyalty_order_receive`, ADR 0008). What was left around it was
Django's and DRF's per-request machinery (ten middleware, URL resolving, DRF's request and
response framing) and two cache reads: more CPU than the event itself.

`EventsFastPath` wraps the WSGI application. For `POST /api/v1/events/` it:

- runs the request phase of the middleware that can answer or change such a request without
  a session (SecurityMiddleware: HTTPS redirect; CommonMiddleware: the host check, refused
  user agents; LocaleMiddleware: the language of the reasons) and, on the way out, their
  response phase and XFrameOptionsMiddleware's, so the answer carries the same headers;
- authenticates the API key from a per-process memo (`_api_key`), and reads the program
  settings from a per-process memo held under the program's page version
  (members.page_versions: database triggers bump it on every change of the settings); the
  database function checks both in the same statement (the key still active, the version
  still current) and answers `stale` or `key_refused` otherwise, so no cache round trip is
  needed and a revoked key or an edited setting is seen at once;
- applies the event in that one statement, and answers 201 (or 200 for a replay) with
  exactly the bytes DRF would answer.

Anything else goes to Django untouched, from the start: another method or path, a cookie (a
browser: sessions and CSRF are Django's business), another content type or Accept header,
a missing or unknown key, malformed JSON, an event `_fast_spec` does not take, and every
refusal (member not found, conflicts): the statement that refused wrote nothing, so DRF's
full path answers as if the fast path had not been there. It switches itself off (with a
warning) unless the database is PostgreSQL and `MIDDLEWARE` is the stack it was written
against; `tests/loyalty/test_events_fast_path.py` compares its answers, headers included,
with Django's for the same requests.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connection
from django.http import HttpResponse, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from loyalty.models import Program, program_pinned
from loyalty.receive_sql import ApiKeyRefused, ProgramChanged, order_receive_sql
from loyalty.services import LedgerError
from members.api.authentication import ApiKeyAuthentication
from members.models import ApiKey
from members.services import api_key_touch

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events/"

# The stack this path was written against: it reproduces the response phase of the ones that
# touch such a response, and the others do nothing to it (no session, CSRF-exempt, no user,
# no messages, allauth acts on 404s only). Another stack switches the fast path off.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ACCEPT_JSON = frozenset({"", "*/*", "application/json"})
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
JSON = JSONRenderer()
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # as DRF's strict JSON parser


# --- Per-process memos, checked by the database function ----------------------------------
_KEYS: dict[str, ApiKey] = {}  # prefix -> active key, as last read
_KEYS_SIZE = 256
_PROGRAM: list[tuple[int, Program]] = []  # [(global page version, settings)] or []


def _api_key(full_key: str) -> ApiKey | None:
    """The key `mc_<prefix>.<secret>` names, if it exists, was active when read and the secret
    matches its hash. Whether it is still active is the database function's check."""
    if not full_key.startswith("mc_") or "." not in full_key:
        return None
    prefix = full_key[3:].split(".", 1)[0]
    key = _KEYS.get(prefix)
    if key is None:
        key = ApiKey.objects.active().filter(prefix=prefix).first()
        if key is None:
            return None
        if len(_KEYS) >= _KEYS_SIZE:
            _KEYS.clear()
        _KEYS[prefix] = key
    if not hmac.compare_digest(key.key_hash, ApiKey.hash_secret(full_key)):
        return None
    return key


def _program(*, reload: bool = False) -> tuple[int, Program]:
    """The program settings and the page version they were read under (the version first:
    a change committed in between leaves a newer snapshot under an older version, which the
    database function then calls stale)."""
    if _PROGRAM and not reload:
        return _PROGRAM[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM members_pageversion WHERE scope = 0")
        row = cursor.fetchone()
    version = int(row[0]) if row else -1  # as the function's COALESCE(version, -1)
    memo = (version, Program.objects.get_or_create(pk=1)[0])
    _PROGRAM[:] = [memo]
    return memo


def forget() -> None:
    """Drop the memos (tests start each case with empty caches)."""
    _KEYS.clear()
    _PROGRAM.clear()


# --- The WSGI wrapper -----------------------------------------------------------------------
def _unused(request: Any) -> Any:
    raise AssertionError("the fast path calls the middleware's phases itself")


class EventsFastPath:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.security = SecurityMiddleware(_unused)
        self.locale = LocaleMiddleware(_unused)
        self.common = CommonMiddleware(_unused)
        self.xframe = XFrameOptionsMiddleware(_unused)
        self._enabled: bool | None = None

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = list(settings.MIDDLEWARE) == MIDDLEWARE
            if not self._enabled:
                logger.warning(
                    "events fast path off: MIDDLEWARE differs from loyalty.api.fast.MIDDLEWARE"
                )
        return self._enabled

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            environ.get("PATH_INFO") != EVENTS_PATH
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("HTTP_COOKIE")
            or not self.enabled
        ):
            return self.app(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        try:
            response = self._answer(request)
        except Exception:
            response = None
            logger.exception("events fast path failed; Django answers instead")
        if response is None:
            signals.request_finished.send(sender=self.__class__)
            if "_body" in request.__dict__:  # read: Django reads it again from the start
                environ["wsgi.input"] = io.BytesIO(request.body)
            return self.app(environ, start_response)
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        status = f"{response.status_code} {response.reason_phrase}"
        start_response(status, list(response.items()))
        return response  # its close() sends request_finished, as Django's handler's does

    def _answer(self, request: WSGIRequest) -> HttpResponseBase | None:
        meta = request.META
        if meta.get("HTTP_ACCEPT", "") not in ACCEPT_JSON:
            return None
        if meta.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
            return None
        keyword, _sep, value = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword != ApiKeyAuthentication.keyword:
            return None
        try:  # the request phase of the middleware that can answer (or refuse) it first
            if self.security.process_request(request) is not None:
                return None
            if self.common.process_request(request) is not None:
                return None
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except Exception:  # e.g. DisallowedHost: Django answers it
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return None
        key = _api_key(value.strip())
        if key is None:
            return None
        try:
            raw = json.loads(request.body.decode("utf-8"), parse_constant=_refuse_constant)
        except ValueError:
            return None
        self.locale.process_request(request)
        answer = _apply(key, raw)
        if answer is None:
            return None
        created, body = answer
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > (
            ApiKeyAuthentication.LAST_USED_RESOLUTION
        ):
            api_key_touch(key=key, now=now)
        response: Any = HttpResponse(  # the middleware stubs disagree on its type
            JSON.render(body), status=201 if created else 200, content_type="application/json"
        )
        response["Allow"] = "POST, OPTIONS"  # as APIView.finalize_response
        # the response phase, in MIDDLEWARE's reverse order (the others add nothing here)
        response = self.xframe.process_response(request, response)
        response = self.common.process_response(request, response)
        response = self.locale.process_response(request, response)
        return self.security.process_response(request, response)


def _apply(key: ApiKey, raw: Any) -> tuple[bool, dict[str, Any]] | None:
    """(created, answer) of a well-formed `order.received` applied in one statement; None for
    anything else, which then wrote nothing."""
    from loyalty.api.views import _fast_spec  # late: the views import this module's users

    for attempt in (1, 2):
        version, program = _program(reload=attempt == 2)
        with program_pinned(program):
            spec = _fast_spec(raw, timezone.now())
            if spec is None:
                return None
            try:
                outcome, _member_id = order_receive_sql(
                    api_key_id=key.pk, event=spec, program_version=version
                )
            except ProgramChanged:
                continue  # the settings changed since they were read: read them again
            except ApiKeyRefused:
                _KEYS.pop(key.prefix, None)  # revoked since it was read
                return None
            except (LedgerError, DatabaseError):
                return None
        return outcome.created, outcome.answer
    return None
