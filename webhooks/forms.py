"""The webhook forms: the partner portal's endpoint (its URL, description and the partner event
types it wants) and replay start, and the admin's replay start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.clock import program_timezone

from .models import PARTNER_EVENT_TYPES
from .safety import UnsafeUrl, url_check_registration
from .services import ReplayRefused, replay_since_check

PARTNER_EVENT_LABELS = {
    "partner.application.changed": _("An application changed state (submitted, decided...)"),
    "partner.certification.changed": _("A certification was granted or became active"),
    "partner.standing.changed": _("The company's standing changed (suspended, reinstated...)"),
}


class PartnerEndpointForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where your system receives the events, e.g. https://example.com/hooks."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=[(t, f"{t}: {PARTNER_EVENT_LABELS[t]}") for t in PARTNER_EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event about your company."),
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            url_check_registration(url)
        except UnsafeUrl as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


class ReplayForm(forms.Form):
    """The moment is read in the program's time zone, the one the partner pages show."""

    since = forms.DateTimeField(
        label=_("Send again every event since"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["since"].help_text = _(
            "Date and time in %(zone)s; the events keep their webhook-id."
        ) % {"zone": program_timezone()}

    def full_clean(self) -> None:
        with timezone.override(program_timezone()):
            super().full_clean()

    def clean_since(self) -> datetime:
        since: datetime = self.cleaned_data["since"]
        try:
            replay_since_check(since)
        except ReplayRefused as refused:
            raise forms.ValidationError(
                _("Choose a moment in the past."), code=refused.code
            ) from refused
        return since


REPLAY_DEFAULT = timedelta(hours=24)  # the start offered: a day ago


def _a_day_ago() -> datetime:
    return timezone.localtime() - REPLAY_DEFAULT


class AdminReplayForm(forms.Form):
    """The admin's: the moment since which an endpoint's events are sent again."""

    since = forms.SplitDateTimeField(
        label=_("Since"),
        widget=AdminSplitDateTime,
        initial=_a_day_ago,
        help_text=_(
            "Every event of the endpoint's types that occurred at or after this moment "
            "(in the site's time zone) is sent again, with the same webhook-id."
        ),
    )

    def clean_since(self) -> datetime:
        since: datetime = self.cleaned_data["since"]
        try:
            replay_since_check(since)
        except ReplayRefused as refused:
            raise forms.ValidationError(refused.message, code=refused.code) from refused
        return since
