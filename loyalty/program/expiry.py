"""When earned points stop being spendable: the program's expiry policy, in one place."""

from __future__ import annotations

from datetime import date

from core.clock import add_months
from loyalty.program.models import Program


def lot_expiry(earned_on: date, program: Program | None = None) -> date | None:
    """The first day on which points earned on `earned_on` are no longer spendable."""
    program = program or Program.load()
    if program.expiry_policy == Program.ExpiryPolicy.NEVER:
        return None
    if program.expiry_policy == Program.ExpiryPolicy.YEAR_END:
        return date(earned_on.year + 2, 1, 1)
    return add_months(earned_on, program.expiry_months)
