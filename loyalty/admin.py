from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Program, Tier


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ("name", "currency", "time_zone", "qualifying_window_months", "expiry_policy")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Program.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Program | None = None) -> bool:
        return False


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin[Tier]):
    list_display = ("name", "code", "rank", "min_points", "discount_percent", "fast_refund_limit")
    search_fields = ("name", "code")
    ordering = ("rank",)
