from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from members.models import Member

from .services import member_update_profile


class DateInput(forms.DateInput):
    input_type = "date"


class ProfileForm(forms.Form):
    """The member's own profile. Saving calls the members service, which holds the rules."""

    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=DateInput(format="%Y-%m-%d"),
        help_text=_("Used for your birthday coupon. You can change it once a year."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Member.Language.choices)
    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news by email"), required=False
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        self.member = member
        kwargs.setdefault(
            "initial",
            {
                "name": member.name,
                "birthday": member.birthday,
                "language": member.language,
                "marketing_consent": member.marketing_consent,
            },
        )
        super().__init__(*args, **kwargs)

    def save(self) -> Member:
        try:
            return member_update_profile(member=self.member, **self.cleaned_data)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    for error in errors:
                        self.add_error(field if field in self.fields else None, error)
            else:
                self.add_error(None, exc)
            raise
