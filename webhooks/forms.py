"""Forms of the webhooks' admin pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .services import ReplayRefused, replay_since_check

REPLAY_DEFAULT = timedelta(hours=24)  # the start offered: a day ago


def _a_day_ago() -> datetime:
    return timezone.localtime() - REPLAY_DEFAULT


class ReplayForm(forms.Form):
    """The moment since which an endpoint's events are sent again."""

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
