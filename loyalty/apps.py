from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _program_time_zone() -> str:
    from loyalty.program.models import Program

    return Program.load().time_zone


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")

    def ready(self) -> None:
        from core import clock

        clock.use_time_zone_source(_program_time_zone)
