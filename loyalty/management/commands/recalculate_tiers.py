from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.clock import add_months, month_end, program_today
from loyalty.tiers.services import DEFAULT_CHUNK_SIZE, RecalcResult, tiers_recalculate


class Command(BaseCommand):
    help = (
        "Recalculate every member's tier as of a date (default: the end of last month in the "
        "program's time zone). Exactly once per month; an unfinished run is resumed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
        parser.add_argument("--dry-run", action="store_true", help="count the moves, write nothing")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or month_end(add_months(program_today(), -1))

        def progress(result: RecalcResult) -> None:
            self.stdout.write(f"  {result.processed:,} of {result.total:,} members")

        try:
            result = tiers_recalculate(
                as_of=as_of,
                dry_run=options["dry_run"],
                chunk_size=options["chunk_size"],
                progress=progress,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        label = "Dry run" if result.dry_run else f"Run {result.period:%Y-%m}"
        self.stdout.write(
            self.style.SUCCESS(
                f"{label} as of {result.as_of.isoformat()} ({result.status}): "
                f"{result.processed:,} of {result.total:,} members, "
                f"{result.moved_up:,} up, {result.moved_down:,} down, "
                f"{result.unchanged:,} unchanged"
            )
        )
