from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# The member center's navigation: (url name, label). A feature adds its entry when it lands,
# so the menu never links to a page that does not exist.
MEMBER_NAV = [
    ("members:dashboard", _("Dashboard")),
    ("loyalty:tier", _("Tier")),
    ("loyalty:points", _("Points")),
    ("catalogue:benefits", _("Benefits")),
    ("benefits:wallet", _("Coupons")),
    ("catalogue:rewards", _("Rewards")),
    ("events:list", _("Events")),
    ("members:profile", _("Profile")),
    ("account_email", _("Email addresses")),
    ("account_change_password", _("Password")),
    ("mfa_index", _("Two-factor authentication")),
]


def member_center(request: HttpRequest) -> dict[str, Any]:
    return {"member_nav": MEMBER_NAV}
