"""Every write to the loyalty state goes through these functions."""

from __future__ import annotations

from django.db import transaction

from .models import Account


@transaction.atomic
def account_open(*, member_id: int) -> Account:
    """The member's loyalty account, created if missing (idempotent)."""
    account, _created = Account.objects.get_or_create(member_id=member_id)
    return account
