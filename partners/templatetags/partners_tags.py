"""Times on partner pages are shown in the program's time zone, with its name."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template

from core.clock import program_timezone

register = template.Library()


@register.filter
def local(value: datetime | None) -> datetime | None:
    return value.astimezone(program_timezone()) if value else value


@register.filter
def before(value: datetime | None, moment: datetime) -> bool:
    return value is not None and value < moment


@register.filter
def detail_label(key: str) -> object:
    """The label of a key of an application's details."""
    from django.utils.translation import gettext_lazy as _

    labels = {
        "business_scope": _("Services you offer"),
        "team_size": _("People in your operations team"),
        "website": _("Website"),
        "markets": _("Markets you serve"),
        "languages": _("Languages your team works in"),
        "company_profile": _("Company profile"),
        "applicant_note": _("What you changed"),
        "legal_name": _("Legal name"),
        "registration_number": _("Registration number"),
        "payment_account_name": _("Payment account name"),
        "payment_account_number": _("Payment account number"),
        "payment_provider": _("Bank or payment provider"),
    }
    return labels.get(key, key)


@register.filter
def due_day(value: datetime | None) -> object:
    """An audit is due when a working day ends (local midnight): the day it ends."""
    if not value:
        return value
    return (value.astimezone(program_timezone()) - timedelta(microseconds=1)).date()


@register.simple_tag
def program_zone() -> str:
    return str(program_timezone())
