"""allauth adapter: new accounts get a loyalty account; login restores the member's language."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from core.clock import program_today
from core.mail import email_subject
from loyalty.ledger.services import account_open

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def remember_language(response: HttpResponse, language: str) -> None:
    """The language choice is kept in a cookie that outlives the session (and logout)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


class AccountAdapter(DefaultAccountAdapter):
    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """allauth's email, with its subject rendered as plain text (core.mail)."""
        message = super().render_mail(template_prefix, email, context, headers)
        subject = email_subject(f"{template_prefix}_subject.txt", context)
        message.subject = self.format_email_subject(subject)
        return message

    def populate_username(self, request: HttpRequest, user: Any) -> None:
        """Members have no username."""

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        user.joined_on = program_today()
        language = getattr(request, "LANGUAGE_CODE", None)
        if language in LANGUAGE_CODES:
            user.language = language
        if commit:
            user.save()
            account_open(member_id=user.pk)
        return user

    def post_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        response = super().post_login(request, user, **kwargs)
        if getattr(user, "language", None) in LANGUAGE_CODES:
            translation.activate(user.language)
            remember_language(response, user.language)
        return response
