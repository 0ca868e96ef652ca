"""The working-day calendar behind the audit SLA, in the program's time zone.

A working day is Monday to Friday, except a configured holiday; a configured make-up working
day counts even on a weekend (partners.models.CalendarDay). An audit of N working days is due
at the end (local midnight) of the Nth working day after the day the clock started: submitted
on Friday with N = 3, it is due when Wednesday ends; submitted on Saturday, too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import day_bounds, local_date, program_timezone

MAX_SCAN_DAYS = 3660  # a calendar with ten years of holidays in a row is a mistake, not a wait


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    working_weekend_days: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekend_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`th working day after `start` (`start` itself never counts); `start`
        when count is 0."""
        day = start
        remaining = count
        for _step in range(MAX_SCAN_DAYS):
            if remaining <= 0:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        raise ValueError("no working day within ten years: check the partner calendar")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        days = (end - start).days
        return sum(1 for i in range(1, days + 1) if self.is_working_day(start + timedelta(i)))

    def due_at(self, started: datetime, count: int, tz: ZoneInfo) -> datetime:
        """When an audit of `count` working days whose clock started at `started` is due."""
        last_day = self.add_working_days(local_date(started, tz), count)
        return day_bounds(last_day, tz)[1]


def calendar_from(rows: Iterable[tuple[date, str]]) -> WorkingCalendar:
    holidays = {day for day, kind in rows if kind == "holiday"}
    working = {day for day, kind in rows if kind == "working"}
    return WorkingCalendar(frozenset(holidays), frozenset(working))


def program_calendar() -> WorkingCalendar:
    from .models import CalendarDay

    return calendar_from(CalendarDay.objects.values_list("day", "kind"))


def audit_due_at(started: datetime, working_days: int) -> datetime:
    return program_calendar().due_at(started, working_days, program_timezone())
