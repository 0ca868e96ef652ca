from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Member


class AdjustmentForm(forms.Form):
    """A staff correction of a member's points; the reason is recorded on the entry."""

    member = forms.CharField(label=_("member number"), max_length=20)
    points = forms.IntegerField(
        label=_("points"),
        help_text=_("Positive adds points, negative removes them (never below zero)."),
    )
    reason = forms.CharField(
        label=_("reason"), max_length=255, error_messages={"required": _("A reason is required.")}
    )

    def clean_member(self) -> Member:
        number = self.cleaned_data["member"].strip()
        member = Member.objects.filter(number=number).first()
        if member is None:
            raise forms.ValidationError(_("No member with this number."))
        return member

    def clean_points(self) -> int:
        points: int = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Give a non-zero number of points."))
        return points

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("A reason is required."))
        return reason

    def add_service_errors(self, errors: dict[str, Any]) -> None:
        for field, messages in errors.items():
            self.add_error(field if field in self.fields else None, messages)
