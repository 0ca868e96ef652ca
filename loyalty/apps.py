from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")

    def ready(self) -> None:
        # Here, not at the top: models can be imported only once the apps are ready.
        from core import clock
        from loyalty.program.models import Program

        clock.use_time_zone_source(lambda: Program.load().time_zone)
