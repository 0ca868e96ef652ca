from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from benefits.coupons.services import issue_occasion_coupons


class Command(BaseCommand):
    help = "Issue the birthday and anniversary coupons of a day (default: today). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, in the program's time zone")

    def handle(self, *args: Any, day: str | None = None, **options: Any) -> None:
        target = None
        if day:
            try:
                target = date.fromisoformat(day)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {day!r}") from exc
        result = issue_occasion_coupons(day=target)
        self.stdout.write(
            f"Issued {result.total} coupons ({result.birthday} birthday, "
            f"{result.anniversary} anniversary)."
        )
