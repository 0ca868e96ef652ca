"""Rate limits on coupon validation and redemption, so codes cannot be found by trying.

Counted in the cache (Redis in production and CI), per API key and per member number.
Rates come from settings.COUPON_RATE_LIMITS when set, else the defaults below.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from members.models import ApiKey

DEFAULT_RATES = {"api_key": "600/min", "member": "20/min"}


class _CouponThrottle(SimpleRateThrottle):
    rate_name = ""

    def get_rate(self) -> str:
        rates = {**DEFAULT_RATES, **getattr(settings, "COUPON_RATE_LIMITS", {})}
        return rates[self.rate_name]


class CouponApiKeyThrottle(_CouponThrottle):
    scope = "coupons_key"
    rate_name = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = request.auth.prefix if isinstance(request.auth, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class CouponMemberThrottle(_CouponThrottle):
    scope = "coupons_member"
    rate_name = "member"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        number = data.get("member") if isinstance(data, dict) else None
        if not isinstance(number, str) or not number:
            return None
        return self.cache_format % {"scope": self.scope, "ident": number[:20]}
