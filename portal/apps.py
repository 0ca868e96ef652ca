from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from core import cache
from portal import page_versions


def _install_page_version_triggers(using: str = "default", **kwargs: Any) -> None:
    """After every migrate: an UPDATE trigger names the columns it watches, so a column that a
    later migration adds must be added to it (portal.page_versions). Not after a migrate back
    to before their names (the reverse of portal 0002 put the old ones back)."""
    connection = connections[using]
    if ("portal", "0002_page_version_trigger_names") in MigrationRecorder(
        connection
    ).applied_migrations():
        page_versions.install(connection)


def _read_versions() -> dict[int, int]:
    return page_versions.versions_read(connections["default"])


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Member center")

    def ready(self) -> None:
        post_migrate.connect(
            _install_page_version_triggers, sender=self, dispatch_uid="portal_page_versions"
        )
        # The cached reads (core.cache) take their versions from the page-version table, and
        # every connection's writes to the tables that bump them are watched.
        cache.use_version_source(_read_versions, page_versions.scopes_of_tables())
        connection_created.connect(cache.watch_connection, dispatch_uid="core_cache_watch")
        for connection in connections.all(initialized_only=True):
            cache.watch_connection(connection)
