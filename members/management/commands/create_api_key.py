from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from members.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an integration. The key is printed once, as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who uses the key, e.g. 'checkout'")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        key, full = api_key_create(name=name)
        self.stdout.write(f"Created API key {key.name!r} (prefix {key.prefix}). Store it now:")
        self.stdout.write(full)
