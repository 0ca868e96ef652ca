from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from portal.notices import notice_emails_sweep


def _since(value: str) -> datetime:
    """A date (its midnight) or a date-time; without an offset, in the site's time zone."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else timezone.make_aware(moment)


class Command(BaseCommand):
    help = (
        "Send the points-expiring emails that killed workers lost (notices never emailed). "
        "Beat does this every 5 minutes for the last 2 days; after a longer outage, run it "
        "with --since the outage's start. Safe to run twice. (Tier and coupon emails come "
        "from the outbox, which keeps each until it is sent.)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=_since,
            help="YYYY-MM-DD or an ISO date-time (default: 2 days ago)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = options["since"]
        sent = notice_emails_sweep(since=since)
        self.stdout.write(self.style.SUCCESS(f"Sent {sent} notice email(s)."))
