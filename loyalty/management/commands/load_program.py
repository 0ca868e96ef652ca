from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from loyalty.program.models import Program
from loyalty.program.presets import PRESETS, loaders


class Command(BaseCommand):
    help = "Load a program preset (tiers, earning rules, coupon templates). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("preset", choices=PRESETS)

    @transaction.atomic
    def handle(self, *args: Any, preset: str, **options: Any) -> None:
        Program.load()  # the settings row exists, with its defaults
        created: list[str] = []
        for load in loaders():
            created.extend(load(preset))
        if not created:
            self.stdout.write(f"Preset {preset!r}: everything was already loaded.")
            return
        self.stdout.write(self.style.SUCCESS(f"Preset {preset!r}: created {len(created)}:"))
        for line in created:
            self.stdout.write(f"  {line}")
