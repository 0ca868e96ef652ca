"""The deposit ledger against a plain model: random sequences of money received, deducted
and refunded (Decimal amounts, extremes included). What the service refuses, the model
refuses; the money held is always the sum of the entries and never negative."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member
from partners import selectors, services
from partners.errors import PartnerError
from partners.models import DepositEntry, Provider
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

amounts = st.decimals(
    min_value=Decimal("-5"),
    max_value=Decimal("250000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
moves = st.lists(
    st.tuples(st.sampled_from(["received", "deducted", "refunded"]), amounts), max_size=12
)


def new_provider(n: int) -> Provider:
    return Provider.objects.create(
        legal_name=f"Ledger Co {n}",
        registration_number=f"LEDGER-{n}",
        country="CN",
        address="a",
        contact_name="c",
        contact_email="c@example.com",
        contact_phone="1",
        payment_account_name="p",
        payment_account_number="1",
        payment_provider="b",
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=moves)
def test_the_ledger_matches_a_plain_model(sequence: list[tuple[str, Decimal]], db: Any) -> None:
    staff: Member = Member.objects.filter(
        email="ledger-staff@example.com"
    ).first() or MemberFactory(email="ledger-staff@example.com")
    provider = new_provider(DepositEntry.objects.count() + Provider.objects.count())
    held = Decimal("0.00")
    for kind, amount in sequence:
        allowed = amount > 0 and (kind == "received" or amount <= held)
        try:
            services.deposit_record(
                provider_id=provider.pk,
                kind=kind,
                amount=amount,
                reference="REF",
                reason="Violation",
                by_id=staff.pk,
            )
        except PartnerError:
            assert not allowed, (kind, amount, held)
        else:
            assert allowed, (kind, amount, held)
            held += amount if kind == "received" else -amount
        assert selectors.deposit_position(provider.pk).held == held
        assert held >= 0
    statement = selectors.deposit_statement(provider.pk)
    assert (statement[-1][1] if statement else Decimal("0.00")) == held
