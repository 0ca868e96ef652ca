#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

With DATABASE_URL unset, the command runs on the embedded PostgreSQL server, started for it
if it is not running and stopped again when the command ends (config/embedded_db.py).
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    from config import embedded_db

    with embedded_db.serving():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
