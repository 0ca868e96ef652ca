"""`make run`'s partner demo: a company part-way through the roadmap, one awaiting the desk,
an auditor who is no superuser; a second run changes nothing."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from members.models import Member
from partners import selectors
from partners.models import Application, Provider

pytestmark = pytest.mark.django_db


def test_the_partner_demo(auditor: Any) -> None:
    Member.objects.filter(pk=auditor.pk).delete()  # the demo makes its own
    out = io.StringIO()
    call_command("seed_partners", stdout=out)
    text = out.getvalue()
    assert "partner auditor" in text and "auditor@example.com / " in text
    assert "partner@example.com / " in text
    demo_auditor = Member.objects.get(email="auditor@example.com")
    assert demo_auditor.has_perm("partners.audit_application") and not demo_auditor.is_superuser
    jade = Provider.objects.get(legal_name="Jade Operations Ltd")
    steps = {step.stage: step.state for step in selectors.roadmap(jade)}
    assert steps == {
        "registration": "done",
        "operator": "current",
        "international": "locked",
        "certified": "locked",
    }
    position = selectors.deposit_position(jade.pk)
    assert (position.held, position.due) == (Decimal("60000.00"), Decimal("40000.00"))
    assert selectors.audit_queue().filter(stage="registration").count() == 1
    again = io.StringIO()
    call_command("seed_partners", stdout=again)
    assert again.getvalue().strip() == "Partner demo already exists."
    assert Provider.objects.count() == 2 and Application.objects.count() == 3
