"""Rate limits on coupon validation and redemption, so codes cannot be found by trying.

Counted atomically in the cache (core.counters; Redis in production and CI), per API key
before the request is read and per member number once the body is validated (the number in
its normalised form, however it was written). Rates come from settings.COUPON_RATE_LIMITS when
set, else the defaults below. Validation and redemption share both budgets.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.counters import counter_hit, parse_rate
from members.models import ApiKey

DEFAULT_RATES = {"api_key": "600/min", "member": "20/min"}


def _rate(name: str) -> tuple[int, int]:
    rates = {**DEFAULT_RATES, **getattr(settings, "COUPON_RATE_LIMITS", {})}
    return parse_rate(rates[name])


class CouponApiKeyThrottle(BaseThrottle):
    """Per API key (per client address without one)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = request.auth.prefix if isinstance(request.auth, ApiKey) else self.get_ident(request)
        limit, self.window = _rate("api_key")
        return counter_hit(f"coupons:api-key:{ident}", window=self.window) <= limit

    def wait(self) -> float:
        return float(self.window)


def coupon_member_limit(number: str) -> None:
    """Count one attempt for the member `number` (normalised: MemberNumberField); raise
    Throttled (429 `rate_limited`) over the limit."""
    limit, window = _rate("member")
    if counter_hit(f"coupons:member:{number}", window=window) > limit:
        raise exceptions.Throttled(wait=window)
