from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from loyalty.ledger.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Check every cached balance and point lot against the entries; non-zero on mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_mismatches()
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"{len(problems)} ledger mismatch(es).")
        self.stdout.write(self.style.SUCCESS("Ledger OK: balances and lots agree with entries."))
