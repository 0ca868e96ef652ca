"""A member's creation and profile changes are domain events (core.outbox), without the
personal data itself: the names of the fields that changed."""

from __future__ import annotations

from datetime import date

import pytest

from core.models import OutboxEvent
from members.services import member_create, member_update_profile

pytestmark = pytest.mark.django_db


def test_a_profile_change_is_recorded_with_what_changed_not_the_values() -> None:
    member = member_create(email="ann@example.com", name="Ann")
    member_update_profile(member=member, name="Ann", language="zh-hans")
    member_update_profile(member=member, name="Ann")  # nothing changed: nothing told
    member_update_profile(member=member, birthday=date(1990, 5, 1), name="Anne")
    events = list(OutboxEvent.objects.filter(member_id=member.pk).order_by("member_seq"))
    assert [e.type for e in events] == ["member.created", "member.updated", "member.updated"]
    assert [e.member_seq for e in events] == [1, 2, 3]
    assert events[1].data["changed"] == ["language"]
    assert events[1].data["language"] == "zh-hans"
    assert events[2].data["changed"] == ["birthday", "name"]
    assert "Anne" not in str(events[2].data) and "1990" not in str(events[2].data)
