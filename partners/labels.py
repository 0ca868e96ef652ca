"""What each trail action is called on both sides."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

ACTIONS: dict[str, Any] = {
    "registered": _("Company registered"),
    "submitted": _("Application submitted"),
    "unqualified": _("Unqualified store application (system assessment)"),
    "resubmitted": _("Application resubmitted"),
    "approved": _("Approved"),
    "profile_approved": _("Company profile approved: presentation awaited"),
    "presentation_uploaded": _("Company presentation uploaded"),
    "rejected": _("Rejected"),
    "changes_requested": _("Changes requested"),
    "identity_verified": _("Identity verified"),
    "identity_failed": _("Identity not verified"),
    "deposit_required": _("Deposit required"),
    "deposit_received": _("Deposit received"),
    "deposit_deducted": _("Deposit deducted"),
    "deposit_refunded": _("Deposit refunded"),
    "certified": _("Certification active"),
    "details_updated": _("Company details updated"),
    "update_requested": _("Information update requested"),
    "suspended": _("Certification suspended"),
    "reinstated": _("Suspension lifted"),
    "revoked": _("Certification revoked; deposit return started"),
    "message": _("Message from the auditors"),
    "person_joined": _("A colleague joined"),
}


def action_label(action: str) -> Any:
    return ACTIONS.get(action, action)
