"""allauth adapter: new accounts are created through the members service."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from loyalty.clock import program_today
from loyalty.services import account_open


class AccountAdapter(DefaultAccountAdapter):
    def populate_username(self, request: HttpRequest, user: Any) -> None:
        """Members have no username."""

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        user.joined_on = program_today()
        language = getattr(request, "LANGUAGE_CODE", None)
        if language in ("en", "zh-hans"):
            user.language = language
        if commit:
            user.save()
            account_open(member_id=user.pk)
        return user
