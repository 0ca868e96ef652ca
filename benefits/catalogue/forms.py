"""The admin's tier × benefit matrix as one form: a row per benefit, a column per tier."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from benefits.catalogue.benefits import CellValue
from benefits.catalogue.models import Benefit, TierBenefit
from loyalty.program.models import Tier


class BenefitMatrixForm(forms.Form):
    """Level discount and fast-refund cells edit the Tier rows (their source of truth); the
    other cells edit `TierBenefit` rows (included, and hours for early access)."""

    def __init__(
        self,
        *args: Any,
        tiers: list[Tier],
        benefits: list[Benefit],
        cells: dict[tuple[int, int], TierBenefit],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tiers = tiers
        self.benefits = benefits
        self.cells = cells
        for tier in tiers:
            self.fields[f"discount-{tier.pk}"] = forms.DecimalField(
                label=_("%(tier)s level discount (%%)") % {"tier": tier.name},
                min_value=Decimal("0"),
                max_value=Decimal("100"),
                max_digits=5,
                decimal_places=2,
                initial=tier.discount_percent,
                widget=forms.NumberInput(attrs={"class": "matrix-percent", "step": "0.01"}),
            )
            self.fields[f"refund-{tier.pk}"] = forms.DecimalField(
                label=_("%(tier)s fast-refund limit") % {"tier": tier.name},
                required=False,
                min_value=Decimal("0.01"),
                max_digits=12,
                decimal_places=2,
                initial=tier.fast_refund_limit,
                help_text=_("Empty: no fast refunds."),
                widget=forms.NumberInput(attrs={"class": "matrix-limit", "step": "0.01"}),
            )
        for benefit in benefits:
            if benefit.from_tier:
                continue
            for tier in tiers:
                cell = cells.get((tier.pk, benefit.pk))
                self.fields[f"cell-{tier.pk}-{benefit.pk}"] = forms.BooleanField(
                    label=_("%(tier)s: %(benefit)s") % {"tier": tier.name, "benefit": benefit.name},
                    required=False,
                    initial=bool(cell and cell.included),
                )
                if benefit.kind == Benefit.Kind.EARLY_ACCESS:
                    self.fields[f"hours-{tier.pk}-{benefit.pk}"] = forms.IntegerField(
                        label=_("%(tier)s: hours of early access") % {"tier": tier.name},
                        required=False,
                        min_value=1,
                        max_value=720,
                        initial=cell.hours if cell else None,
                        widget=forms.NumberInput(attrs={"class": "matrix-hours"}),
                    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for benefit in self.benefits:
            if benefit.kind != Benefit.Kind.EARLY_ACCESS:
                continue
            for tier in self.tiers:
                hours = f"hours-{tier.pk}-{benefit.pk}"
                ticked = data.get(f"cell-{tier.pk}-{benefit.pk}")
                if ticked and not data.get(hours) and hours not in self.errors:
                    self.add_error(hours, _("Give the hours of early access."))
        return data

    def rows(self) -> list[tuple[Benefit, list[list[forms.BoundField]]]]:
        """For the template: per benefit, per tier, the fields of that cell."""
        table = []
        for benefit in self.benefits:
            row = []
            for tier in self.tiers:
                if benefit.kind == Benefit.Kind.LEVEL_DISCOUNT:
                    names = [f"discount-{tier.pk}"]
                elif benefit.kind == Benefit.Kind.FAST_REFUND:
                    names = [f"refund-{tier.pk}"]
                else:
                    names = [f"cell-{tier.pk}-{benefit.pk}"]
                    if f"hours-{tier.pk}-{benefit.pk}" in self.fields:
                        names.append(f"hours-{tier.pk}-{benefit.pk}")
                row.append([self[name] for name in names])
            table.append((benefit, row))
        return table

    def tier_values(self) -> dict[int, tuple[Decimal, Decimal | None]]:
        data = self.cleaned_data
        return {t.pk: (data[f"discount-{t.pk}"], data.get(f"refund-{t.pk}")) for t in self.tiers}

    def cell_values(self) -> dict[tuple[int, int], CellValue]:
        data = self.cleaned_data
        values = {}
        for benefit in self.benefits:
            if benefit.from_tier:
                continue
            for tier in self.tiers:
                included = bool(data.get(f"cell-{tier.pk}-{benefit.pk}"))
                hours = data.get(f"hours-{tier.pk}-{benefit.pk}") if included else None
                old = self.cells.get((tier.pk, benefit.pk))
                values[(tier.pk, benefit.pk)] = CellValue(
                    included=included, hours=hours, note=old.note if old else ""
                )
        return values
