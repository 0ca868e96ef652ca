from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from portal import page_versions


def _install_page_version_triggers(using: str = "default", **kwargs: Any) -> None:
    """After every migrate: an UPDATE trigger names the columns it watches, so a column that a
    later migration adds must be added to it (portal.page_versions)."""
    page_versions.install(connections[using])


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Member center")

    def ready(self) -> None:
        post_migrate.connect(
            _install_page_version_triggers, sender=self, dispatch_uid="portal_page_versions"
        )
