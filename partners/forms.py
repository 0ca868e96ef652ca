"""The partner portal's and the audit desk's forms. They hold fields only: the rules are the
services', whose refusals are shown beside their field (`show_refusal`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from .errors import PartnerError
from .models import DepositEntry, Document, Provider, ProviderMember

TEXTAREA = forms.Textarea(attrs={"rows": 3})


def show_refusal(form: forms.BaseForm, refusal: PartnerError) -> None:
    """A service's refusal beside its field (or above the form)."""
    field = refusal.field if refusal.field in form.fields else None
    form.add_error(field, refusal.message)


class CompanyForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name"), max_length=200)
    registration_number = forms.CharField(label=_("Registration number"), max_length=60)
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        min_length=2,
        help_text=_("Two-letter code, e.g. CN, HK, DE."),
    )
    address = forms.CharField(label=_("Address"), max_length=500, widget=TEXTAREA)
    contact_name = forms.CharField(label=_("Contact person"), max_length=150)
    contact_email = forms.EmailField(label=_("Contact email"))
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40)
    payment_account_name = forms.CharField(label=_("Payment account name"), max_length=200)
    payment_account_number = forms.CharField(label=_("Payment account number"), max_length=60)
    payment_provider = forms.CharField(label=_("Bank or payment provider"), max_length=120)
    payment_account_kind = forms.ChoiceField(
        label=_("Payment account kind"),
        choices=Provider.PaymentKind.choices,
        initial=Provider.PaymentKind.CORPORATE,
        help_text=_("Only a corporate account can be bound."),
    )

    def clean_country(self) -> str:
        value = self.cleaned_data["country"].strip().upper()
        if not value.isascii() or not value.isalpha():
            raise forms.ValidationError(_("Two letters, e.g. CN."))
        return value


class RegisterForm(CompanyForm):
    licence = forms.FileField(label=_("Business licence"), help_text=_("PDF, PNG, JPEG or WebP."))
    identity = forms.FileField(
        label=_("Contact person's identity document"), help_text=_("PDF, PNG, JPEG or WebP.")
    )
    identity_second = forms.FileField(
        label=_("Selfie or second identity document"), help_text=_("PNG, JPEG or WebP photo.")
    )


class CompanyEditForm(CompanyForm):
    """Country is part of the registration: it is not edited here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].disabled = True
        self.fields["legal_name"].help_text = _("A change is audited by staff before it applies.")
        self.fields["registration_number"].help_text = _(
            "A change is audited by staff before it applies."
        )


class IdentityForm(forms.Form):
    identity = forms.FileField(label=_("Identity document"), help_text=_("PDF, PNG, JPEG or WebP."))
    identity_second = forms.FileField(
        label=_("Selfie or second identity document"), help_text=_("PNG, JPEG or WebP photo.")
    )


class OperatorForm(forms.Form):
    business_scope = forms.CharField(label=_("Services you offer"), max_length=500, widget=TEXTAREA)
    team_size = forms.IntegerField(
        label=_("People in your operations team"), min_value=1, max_value=100000
    )
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")


class ShopForm(forms.Form):
    nickname = forms.CharField(label=_("Shop nickname"), max_length=100)
    contract_nickname = forms.CharField(
        label=_("Shop nickname as written in the contract"), max_length=100
    )
    contract = forms.FileField(
        label=_("Operating contract"), help_text=_("PDF, PNG, JPEG or WebP.")
    )


ShopFormSet = formset_factory(
    ShopForm, extra=0, min_num=1, max_num=5, validate_min=True, validate_max=True
)


class InternationalForm(forms.Form):
    markets = forms.CharField(label=_("Markets you serve"), max_length=300)
    languages = forms.CharField(label=_("Languages your team works in"), max_length=200)
    company_profile = forms.CharField(label=_("Company profile"), max_length=2000, widget=TEXTAREA)


class ResubmitForm(forms.Form):
    note = forms.CharField(
        label=_("What you changed"), max_length=2000, widget=TEXTAREA, required=True
    )
    document = forms.FileField(
        label=_("A new or corrected document (optional)"),
        required=False,
        help_text=_("PDF, PNG, JPEG or WebP."),
    )
    document_kind = forms.ChoiceField(
        label=_("Kind of document"),
        choices=[(k, label) for k, label in Document.Kind.choices if k != "presentation"],
        required=False,
    )


class DetailsChangeForm(forms.Form):
    """The registered details a change request proposes."""

    legal_name = forms.CharField(label=_("Legal name"), max_length=200)
    registration_number = forms.CharField(label=_("Registration number"), max_length=60)
    payment_account_name = forms.CharField(label=_("Payment account name"), max_length=200)
    payment_account_number = forms.CharField(label=_("Payment account number"), max_length=60)
    payment_provider = forms.CharField(label=_("Bank or payment provider"), max_length=120)
    payment_account_kind = forms.ChoiceField(
        label=_("Payment account kind"),
        choices=Provider.PaymentKind.choices,
        initial=Provider.PaymentKind.CORPORATE,
        help_text=_("Only a corporate account can be bound."),
    )


# the details a resubmission may edit, by stage (registration: the company profile page)
RESUBMIT_DETAILS: dict[str, type[forms.Form]] = {
    "operator": OperatorForm,
    "international": InternationalForm,
    "details_change": DetailsChangeForm,
}


class PresentationForm(forms.Form):
    presentation = forms.FileField(
        label=_("Company presentation"), help_text=_("PDF. The first thing partners see of you.")
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=ProviderMember.Role.choices, initial="staff")


# --- the audit desk -----------------------------------------------------------------------
class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("reject", _("Reject")),
            ("request_changes", _("Request changes")),
        ]
    )
    note = forms.CharField(
        label=_("Note to the applicant"),
        required=False,
        max_length=2000,
        widget=TEXTAREA,
        help_text=_("Required to reject or request changes."),
    )
    expected_status = forms.CharField(widget=forms.HiddenInput)
    expected_version = forms.IntegerField(widget=forms.HiddenInput)


class IdentityDecisionForm(forms.Form):
    verified = forms.TypedChoiceField(
        choices=[("1", _("Verified")), ("0", _("Not verified"))], coerce=lambda v: v == "1"
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=1000, widget=TEXTAREA)


class DepositForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Movement"),
        choices=[
            (DepositEntry.Kind.RECEIVED, _("Received")),
            (DepositEntry.Kind.DEDUCTED, _("Deducted (violation)")),
            (DepositEntry.Kind.REFUNDED, _("Refunded")),
        ],
    )
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)
    reference = forms.CharField(label=_("Payment reference"), required=False, max_length=100)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000, widget=TEXTAREA)


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=TEXTAREA)
    until = forms.DateField(
        label=_("Until"),
        required=False,
        help_text=_("Leave empty to suspend indefinitely."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=TEXTAREA)


class UpdateRequestForm(forms.Form):
    deadline = forms.DateField(label=_("Update by"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("What must be updated"), max_length=1000, widget=TEXTAREA)


class MessageForm(forms.Form):
    note = forms.CharField(label=_("Message"), max_length=2000, widget=TEXTAREA)
