from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.selectors import request_member_status

# The member center's navigation: (url name, label). A feature adds its entry when it lands,
# so the menu never links to a page that does not exist.
MEMBER_NAV = [
    ("portal:dashboard", _("Dashboard")),
    ("portal:inbox", _("Inbox")),
    ("loyalty:tier", _("Tier")),
    ("loyalty:points", _("Points")),
    ("catalogue:benefits", _("Benefits")),
    ("benefits:wallet", _("Coupons")),
    ("catalogue:rewards", _("Rewards")),
    ("events:list", _("Events")),
    ("portal:how_points_work", _("How points work")),
    ("portal:profile", _("Profile")),
    ("account_email", _("Email addresses")),
    ("account_change_password", _("Password")),
    ("mfa_index", _("Two-factor authentication")),
]


@cache
def member_nav_links() -> list[tuple[str, str, Any]]:
    """(url name, path, label) of MEMBER_NAV, reversed once per process: the menu is on every member
    page and the URLs do not depend on the language."""
    return [(url_name, reverse(url_name), label) for url_name, label in MEMBER_NAV]


def member_center(request: HttpRequest) -> dict[str, Any]:
    def unread_notices() -> int:
        """Evaluated only by templates that show it; one query per response at most, shared
        with the dashboard (portal.selectors.request_member_status)."""
        status = request_member_status(request)
        return status.unread_notices if status is not None else 0

    return {"member_nav": member_nav_links, "unread_notices": unread_notices}
