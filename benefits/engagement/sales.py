"""Sales with early access per tier: a tier listed on a sale may shop it `hours` before the
public start (e.g. Diamond 48 hours, Gold 24 hours). Everyone else waits for the public start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from benefits.engagement.models import Sale, SaleEarlyAccess


@dataclass(frozen=True)
class SaleWindow:
    """A sale as one tier sees it: when it opens for that tier, and whether that is early."""

    sale: Sale
    opens_at: datetime
    early_hours: int

    @property
    def early(self) -> bool:
        return self.opens_at < self.sale.public_start_at

    def open_at(self, now: datetime) -> bool:
        return self.opens_at <= now < self.sale.ends_at


def window(sale: Sale, hours: int | None) -> SaleWindow:
    hours = hours or 0
    return SaleWindow(sale, sale.public_start_at - timedelta(hours=hours), hours)


def _live_sales(tier_id: int | None, now: datetime) -> QuerySet[Sale]:
    """Active sales not yet over, with `tier_hours`: this tier's early access (or None)."""
    sales = Sale.objects.filter(active=True, ends_at__gt=now).select_related("brand")
    if tier_id is None:  # no ladder at all: public sales only
        tier_hours: Any = Value(None, output_field=IntegerField())
    else:
        hours = SaleEarlyAccess.objects.filter(sale=OuterRef("pk"), tier_id=tier_id)
        tier_hours = Subquery(hours.values("hours")[:1])
    return sales.annotate(tier_hours=tier_hours).order_by("public_start_at", "pk")


def sales_open_to(tier_id: int | None, now: datetime | None = None) -> list[SaleWindow]:
    """The sales a member of this tier can shop at `now` (early or public), soonest opened
    first: one query. The longest early access is 720 hours, which bounds the scan."""
    now = now or timezone.now()
    candidates = _live_sales(tier_id, now).filter(
        Q(public_start_at__lte=now)
        | Q(public_start_at__lte=now + timedelta(hours=720), tier_hours__isnull=False)
    )
    windows = [window(sale, getattr(sale, "tier_hours", None)) for sale in candidates]
    return sorted((w for w in windows if w.open_at(now)), key=lambda w: (w.opens_at, w.sale.pk))
