from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_page_version_triggers(using: str = "default", **kwargs: Any) -> None:
    """After every migrate: an UPDATE trigger names the columns it watches, so a column that a
    later migration adds must be added to it (members.page_versions)."""
    from django.db import connections

    from .page_versions import install

    install(connections[using])


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        post_migrate.connect(
            _install_page_version_triggers, sender=self, dispatch_uid="members_page_versions"
        )
