"""Identity verification of a provider's contact person, behind a small interface so that a
real verification provider can replace staff: `settings.PARTNERS_IDENTITY_VERIFIER` names the
class. A verifier is told about a new check (`submit`); its answer comes back through
`partners.services.identity_check_decide` (from the audit desk for staff, from a webhook for a
provider)."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from .models import IdentityCheck


class IdentityVerifier(Protocol):
    name: str
    decided_by_staff: bool

    def submit(self, check: IdentityCheck) -> None:
        """A new check, with its documents stored: start verifying it."""


class StaffVerifier:
    """Staff look at the documents on the audit desk and decide."""

    name = "staff"
    decided_by_staff = True

    def submit(self, check: IdentityCheck) -> None:
        return None  # the check waits in the audit desk's queue


def identity_verifier() -> IdentityVerifier:
    cls = import_string(getattr(settings, "PARTNERS_IDENTITY_VERIFIER", ""))
    verifier: IdentityVerifier = cls()
    return verifier
