"""The benefit catalogue: what each tier gives (reads) and the matrix edit (a service).

The level discount and the fast-refund limit are read from the `Tier` row (their single source
of truth, also used by the checkout and the tier ladder): a tier "has" the level discount when
its percent is above 0 and fast refunds when it has a limit. Every other benefit is a
`TierBenefit` cell (included, hours of early access, a note). The admin's matrix edits both.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from benefits.catalogue.models import Benefit, TierBenefit
from core.placeholders import fill
from loyalty.ledger.selectors import account_state, member_tier
from loyalty.program.models import Program, Tier
from members.models import Member

Kind = Benefit.Kind


def format_percent(value: Decimal) -> str:
    """8.00 → "8", 7.50 → "7.5"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class BenefitLine:
    """One benefit for one tier, with its concrete numbers and where it applies."""

    benefit: Benefit
    included: bool
    percent: Decimal | None = None
    limit: Decimal | None = None
    hours: int | None = None
    note: str = ""
    currency: str = ""

    @property
    def applies(self) -> str:
        values = {
            "percent": format_percent(self.percent) if self.percent is not None else "",
            "limit": f"{self.limit:.2f}" if self.limit is not None else "",
            "currency": self.currency,
            "hours": str(self.hours) if self.hours is not None else "",
        }
        text = fill(self.benefit.applies, values)
        return f"{text} ({self.note})" if self.note else text

    @property
    def value(self) -> str:
        """The short figure of the comparison table: "8%", "24.00 USD", "48 h", or ✓."""
        if not self.included:
            return "–"
        if self.percent is not None:
            return f"{format_percent(self.percent)}%"
        if self.limit is not None:
            return f"{self.limit:.2f} {self.currency}"
        if self.hours is not None:
            return _("%(hours)d h") % {"hours": self.hours}
        return "✓"


def benefit_line(
    benefit: Benefit, tier: Tier, cell: TierBenefit | None, currency: str
) -> BenefitLine:
    if benefit.kind == Kind.LEVEL_DISCOUNT:
        percent = tier.discount_percent
        included = percent > 0
        return BenefitLine(benefit, included, percent=percent if included else None)
    if benefit.kind == Kind.FAST_REFUND:
        limit = tier.fast_refund_limit
        included = limit is not None and limit > 0
        return BenefitLine(benefit, included, limit=limit if included else None, currency=currency)
    if cell is None or not cell.included:
        return BenefitLine(benefit, False)
    return BenefitLine(benefit, True, hours=cell.hours, note=cell.note, currency=currency)


@dataclass(frozen=True)
class MatrixRow:
    benefit: Benefit
    lines: list[BenefitLine]  # one per tier, in ladder order


@dataclass(frozen=True)
class Matrix:
    tiers: list[Tier]
    rows: list[MatrixRow]
    currency: str

    def for_tier(self, tier: Tier | None) -> list[BenefitLine]:
        if tier is None or tier not in self.tiers:
            return []
        index = self.tiers.index(tier)
        return [row.lines[index] for row in self.rows]


def benefit_matrix(*, include_inactive: bool = False) -> Matrix:
    """The whole tier × benefit matrix in three queries (tiers, benefits, cells)."""
    tiers = list(Tier.objects.order_by("rank"))
    benefits = Benefit.objects.order_by("position", "pk")
    if not include_inactive:
        benefits = benefits.filter(active=True)
    cells = {(c.tier_id, c.benefit_id): c for c in TierBenefit.objects.all()}
    currency = Program.load().currency
    rows = [
        MatrixRow(
            benefit,
            [
                benefit_line(benefit, tier, cells.get((tier.pk, benefit.pk)), currency)
                for tier in tiers
            ],
        )
        for benefit in benefits
    ]
    return Matrix(tiers, rows, currency)


def next_tier(tier: Tier | None, tiers: list[Tier]) -> Tier | None:
    if tier is None:
        return tiers[0] if tiers else None
    higher = [t for t in tiers if t.rank > tier.rank]
    return higher[0] if higher else None


@dataclass(frozen=True)
class MemberBenefits:
    tier: Tier | None
    next_tier: Tier | None
    lines: list[BenefitLine]
    matrix: Matrix

    @property
    def included(self) -> list[BenefitLine]:
        return [line for line in self.lines if line.included]

    @property
    def discount_percent(self) -> Decimal:
        return self.tier.discount_percent if self.tier is not None else Decimal("0")

    @property
    def fast_refund_limit(self) -> Decimal | None:
        limit = self.tier.fast_refund_limit if self.tier is not None else None
        return limit if limit is not None and limit > 0 else None


def member_benefits(member: Member) -> MemberBenefits:
    """The member's tier (as `member_tier`: the evaluated one, else the base tier), picked
    from the ladder the matrix already loaded, with its benefits and the whole matrix."""
    matrix = benefit_matrix()
    tier_id = account_state(member)[1]  # shared with the page's other cards
    tier = next((t for t in matrix.tiers if t.pk == tier_id), None)
    if tier is None:
        tier = next((t for t in matrix.tiers if t.min_points == 0), None)
    return MemberBenefits(tier, next_tier(tier, matrix.tiers), matrix.for_tier(tier), matrix)


# --- Fast refunds --------------------------------------------------------------------------


@dataclass(frozen=True)
class FastRefundAnswer:
    qualifies: bool
    code: str  # "qualifies", "not_in_tier" or "over_limit"
    detail: str
    limit: Decimal | None
    currency: str
    tier: Tier | None


def fast_refund_check(*, member: Member, order_amount: Decimal) -> FastRefundAnswer:
    """Does an order of `order_amount` qualify for a fast refund under the member's tier?
    (A read: the refund itself is the shop's.)"""
    tier = member_tier(member)
    currency = Program.load().currency
    limit = tier.fast_refund_limit if tier is not None else None
    if limit is None or limit <= 0:
        return FastRefundAnswer(
            False,
            "not_in_tier",
            _("The member's tier has no fast refunds."),
            None,
            currency,
            tier,
        )
    if order_amount > limit:
        return FastRefundAnswer(
            False,
            "over_limit",
            _("Fast refunds cover orders up to %(limit)s %(currency)s.")
            % {"limit": f"{limit:.2f}", "currency": currency},
            limit,
            currency,
            tier,
        )
    return FastRefundAnswer(
        True,
        "qualifies",
        _("This order qualifies for a fast refund."),
        limit,
        currency,
        tier,
    )


# --- The matrix edit (admin) ---------------------------------------------------------------


@dataclass(frozen=True)
class CellValue:
    included: bool
    hours: int | None = None
    note: str = ""


@transaction.atomic
def benefit_matrix_update(
    *,
    tier_values: dict[int, tuple[Decimal, Decimal | None]],
    cells: dict[tuple[int, int], CellValue],
) -> int:
    """Save the matrix: each tier's (discount percent, fast-refund limit) on the Tier row, and
    every other cell, keyed (tier id, benefit id), as one upsert. Returns the cells written."""
    for tier in Tier.objects.select_for_update().filter(pk__in=tier_values).order_by("pk"):
        percent, limit = tier_values[tier.pk]
        if tier.discount_percent != percent or tier.fast_refund_limit != limit:
            Tier.objects.filter(pk=tier.pk).update(
                discount_percent=percent, fast_refund_limit=limit
            )
    rows = [
        TierBenefit(
            tier_id=tier_id,
            benefit_id=benefit_id,
            included=value.included,
            hours=value.hours,
            note=value.note,
        )
        for (tier_id, benefit_id), value in sorted(cells.items())
    ]
    TierBenefit.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tier", "benefit"],
        update_fields=["included", "hours", "note"],
    )
    return len(rows)
