from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from core.clock import program_today
from members.models import Member
from members.services import member_create, member_get_or_create, member_update_profile

pytestmark = pytest.mark.django_db


def test_create_member_normalizes_email_and_sets_dates() -> None:
    member = member_create(email="Ann@Example.COM", password="s3cret-pass-123")
    assert member.email == "ann@example.com"
    assert member.joined_on == program_today()
    assert len(member.number) == 10
    assert member.check_password("s3cret-pass-123")


def test_duplicate_email_is_refused_case_insensitively_and_writes_nothing() -> None:
    member_create(email="ann@example.com")
    with pytest.raises(ValidationError) as info:
        member_create(email="ANN@example.com")
    assert "email" in info.value.message_dict
    assert Member.objects.count() == 1


def test_get_or_create_returns_the_existing_member() -> None:
    first, created = member_get_or_create(email="bo@example.com")
    again, created_again = member_get_or_create(email="Bo@Example.com")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk


def test_birthday_in_the_future_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        member_create(email="c@example.com", birthday=program_today() + timedelta(days=1))
    assert "birthday" in info.value.message_dict
    assert not Member.objects.exists()


def test_birthday_can_be_changed_once_in_365_days(member: Member) -> None:
    updated = member_update_profile(member=member, birthday=date(1990, 5, 17))
    assert updated.birthday == date(1990, 5, 17)
    assert updated.birthday_set_on == program_today()

    with pytest.raises(ValidationError) as info:
        member_update_profile(member=updated, birthday=date(1991, 6, 1))
    assert "once a year" in info.value.message_dict["birthday"][0]
    member.refresh_from_db()
    assert member.birthday == date(1990, 5, 17)

    # Staff may always change it.
    by_staff = member_update_profile(member=member, birthday=date(1991, 6, 1), by_staff=True)
    assert by_staff.birthday == date(1991, 6, 1)


def test_birthday_change_allowed_again_after_365_days(member: Member) -> None:
    Member.objects.filter(pk=member.pk).update(
        birthday=date(1990, 1, 1), birthday_set_on=program_today() - timedelta(days=365)
    )
    member.refresh_from_db()
    updated = member_update_profile(member=member, birthday=date(1990, 1, 2))
    assert updated.birthday == date(1990, 1, 2)


def test_saving_the_same_birthday_is_not_a_change(member: Member) -> None:
    member = member_update_profile(member=member, birthday=date(1990, 5, 17))
    member = member_update_profile(member=member, birthday=date(1990, 5, 17), name="New name")
    assert member.name == "New name"
