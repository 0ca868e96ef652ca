"""The working-day calendar behind the audit SLA: weekends, configured holidays and make-up
working days, in the program's time zone; a Hypothesis property against a plain model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from members.models import Member
from partners.models import Application, CalendarDay
from partners.workdays import WorkingCalendar, audit_due_at

from .conftest import open_application, register

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_three_working_days_across_a_weekend() -> None:
    calendar = WorkingCalendar()
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=SHANGHAI)
    # Monday, Tuesday, Wednesday: due when Wednesday ends
    assert calendar.due_at(friday, 3, SHANGHAI) == datetime(2026, 12, 10, 0, 0, tzinfo=SHANGHAI)
    saturday = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
    assert calendar.due_at(saturday, 3, SHANGHAI) == datetime(2026, 12, 10, 0, 0, tzinfo=SHANGHAI)


def test_a_configured_holiday_is_skipped_and_a_make_up_day_counts() -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=SHANGHAI)
    holiday = WorkingCalendar(holidays=frozenset({date(2026, 12, 8)}))  # Tuesday
    assert holiday.due_at(friday, 3, SHANGHAI) == datetime(2026, 12, 11, 0, 0, tzinfo=SHANGHAI)
    make_up = WorkingCalendar(working_weekend_days=frozenset({date(2026, 12, 5)}))  # Saturday
    assert make_up.due_at(friday, 3, SHANGHAI) == datetime(2026, 12, 9, 0, 0, tzinfo=SHANGHAI)


def test_the_day_is_the_program_time_zones() -> None:
    calendar = WorkingCalendar()
    # 17:00 UTC on Friday is already Saturday 01:00 in Shanghai
    late_friday_utc = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    assert calendar.due_at(late_friday_utc, 1, SHANGHAI) == datetime(
        2026, 12, 8, 0, 0, tzinfo=SHANGHAI
    )
    assert calendar.due_at(late_friday_utc, 1, ZoneInfo("UTC")) == datetime(
        2026, 12, 8, 0, 0, tzinfo=UTC
    )


@pytest.mark.django_db
def test_an_application_is_due_by_the_database_calendar(auditor: Member) -> None:
    CalendarDay.objects.create(day=date(2026, 12, 8), kind="holiday", name="Staff day")
    friday = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    with time_machine.travel(friday, tick=False):
        provider = register()
    application = open_application(provider, "registration")
    # program zone UTC (the default): Mon 7, (Tue 8 holiday), Wed 9, Thu 10 -> ends Thu
    assert application.due_at == datetime(2026, 12, 11, 0, 0, tzinfo=UTC)
    assert audit_due_at(friday, 0) == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    assert Application.objects.count() == 1


def model_due_day(start: date, count: int, holidays: set[date], working: set[date]) -> date:
    """Obviously correct: walk day by day, counting working days after `start`."""
    day, seen = start, 0
    while seen < count:
        day += timedelta(days=1)
        if day in working or (day.weekday() < 5 and day not in holidays):
            seen += 1
    return day


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    start=days,
    count=st.integers(min_value=0, max_value=15),
    holidays=st.sets(days, max_size=40),
    working=st.sets(days, max_size=10),
    hour=st.integers(min_value=0, max_value=23),
    zone=st.sampled_from(["UTC", "Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati"]),
)
def test_due_at_matches_a_plain_model(
    start: date, count: int, holidays: set[date], working: set[date], hour: int, zone: str
) -> None:
    holidays = holidays - working  # a day is one or the other (unique in the database)
    tz = ZoneInfo(zone)
    calendar = WorkingCalendar(frozenset(holidays), frozenset(working))
    started = datetime(start.year, start.month, start.day, hour, tzinfo=tz)
    due = calendar.due_at(started, count, tz)
    expected_day = model_due_day(start, count, holidays, working)
    assert due == datetime.combine(expected_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    assert calendar.working_days_between(start, expected_day) == count
    if count:
        assert calendar.is_working_day(expected_day)
        assert due > started
