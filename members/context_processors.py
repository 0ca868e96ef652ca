from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# The member center's navigation: (url name, label). A feature adds its entry when it lands,
# so the menu never links to a page that does not exist.
MEMBER_NAV = [
    ("members:dashboard", _("Dashboard")),
    ("members:inbox", _("Inbox")),
    ("loyalty:tier", _("Tier")),
    ("loyalty:points", _("Points")),
    ("catalogue:benefits", _("Benefits")),
    ("benefits:wallet", _("Coupons")),
    ("catalogue:rewards", _("Rewards")),
    ("events:list", _("Events")),
    ("members:how_points_work", _("How points work")),
    ("members:profile", _("Profile")),
    ("account_email", _("Email addresses")),
    ("account_change_password", _("Password")),
    ("mfa_index", _("Two-factor authentication")),
]


def member_center(request: HttpRequest) -> dict[str, Any]:
    def unread_notices() -> int:
        """Evaluated only by templates that show it; one query per response at most, shared
        with the dashboard (members.selectors.request_member_status)."""
        from .selectors import request_member_status

        status = request_member_status(request)
        return status.unread_notices if status is not None else 0

    return {"member_nav": MEMBER_NAV, "unread_notices": unread_notices}
