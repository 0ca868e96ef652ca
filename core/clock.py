"""The one place that says what "now", "today" and "month end" are in the program's time zone."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def _configured_zone() -> str:
    return str(settings.PROGRAM_TIME_ZONE_DEFAULT)


# The program's time zone is a setting of the program (loyalty's Program row); the program
# package registers its reader when the app is ready, so this module imports no domain.
_zone_source: Callable[[], str] = _configured_zone


def use_time_zone_source(source: Callable[[], str]) -> None:
    """Name the function that answers the program's time zone (an IANA name)."""
    global _zone_source
    _zone_source = source


def program_timezone() -> ZoneInfo:
    return ZoneInfo(_zone_source())


def program_now() -> datetime:
    return timezone.now().astimezone(program_timezone())


def program_today() -> date:
    return program_now().date()


def default_today() -> date:
    """A model-field default that needs no database: today in the configured default zone.

    Services set program-local dates explicitly with `program_today()`; this is a fallback for
    rows made elsewhere (createsuperuser, fixtures).
    """
    return timezone.now().astimezone(ZoneInfo(settings.PROGRAM_TIME_ZONE_DEFAULT)).date()


def local_date(moment: datetime, tz: ZoneInfo | None = None) -> date:
    """The calendar date of an aware datetime in the program's time zone (or `tz`)."""
    return moment.astimezone(tz or program_timezone()).date()


def day_bounds(day: date, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a program-local calendar day (or `tz`'s), as aware datetimes."""
    tz = tz or program_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def month_bounds(day: date, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the program-local calendar month (or `tz`'s) that contains `day`."""
    tz = tz or program_timezone()
    first = day.replace(day=1)
    nxt = add_months(first, 1)
    return datetime.combine(first, time.min, tzinfo=tz), datetime.combine(nxt, time.min, tzinfo=tz)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# While a page fragment is rendered to be cached, the code that compares a datetime with "now"
# notes the next moment its answer changes (a coupon leaving "expiring soon", a sale opening);
# the fragment lives no longer than the earliest of them (the portal's dashboard).
_CHANGES: ContextVar[list[datetime] | None] = ContextVar("clock_changes", default=None)


@contextmanager
def changes_collected() -> Iterator[list[datetime]]:
    """Collect `note_change_at` moments within the block (the list is filled as it runs)."""
    moments: list[datetime] = []
    token = _CHANGES.set(moments)
    try:
        yield moments
    finally:
        _CHANGES.reset(token)


def note_change_at(*moments: datetime | None) -> None:
    """What is being computed reads differently from `moment` on (future moments only count)."""
    collected = _CHANGES.get()
    if collected is None:
        return
    now = timezone.now()
    collected.extend(m for m in moments if m is not None and m > now)
