"""The program presets that `manage.py load_program NAME` loads.

Each part of the program contributes a loader `load(preset_name) -> list[str]` (a line per
thing it created). Loaders only create what is missing: running a preset again changes
nothing it already loaded, and never overwrites what an administrator edited.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from django.conf import settings

PRESETS = ("aliexpress", "tmall")


def loaders() -> list[Callable[[str], list[str]]]:
    return [import_module(path).load for path in settings.PROGRAM_PRESET_LOADERS]
