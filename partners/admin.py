"""Staff-managed data of the partner program (its settings, the working-day calendar, the
shops the assessment reads) and read-only views of the records. Decisions are taken on the
audit desk (/partners/desk/), which calls the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin

from .models import (
    Application,
    AuditEvent,
    CalendarDay,
    DepositEntry,
    Document,
    IdentityCheck,
    PartnerProgram,
    Provider,
    Shop,
)


@admin.register(PartnerProgram)
class PartnerProgramAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "__str__",
        "deposit_amount",
        "deposit_currency",
        "audit_working_days",
        "min_trading_days",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not PartnerProgram.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("day", "kind", "name")
    list_filter = ("kind",)
    search_fields = ("name",)
    date_hierarchy = "day"


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("nickname", "owner_company", "active", "opened_on", "open_violations")
    list_filter = ("active",)
    search_fields = ("nickname", "owner_company", "owner_registration_number")


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdmin):
    list_display = ("legal_name", "country", "registration_number", "standing", "created_at")
    list_filter = ("standing", "country")
    search_fields = ("legal_name", "registration_number", "contact_email")


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "stage", "status", "submitted_at", "due_at", "decided_at")
    list_filter = ("stage", "status")
    search_fields = ("provider__legal_name", "provider__registration_number")
    list_select_related = ("provider",)


@admin.register(IdentityCheck)
class IdentityCheckAdmin(ReadOnlyAdmin):
    list_display = ("person_name", "provider", "status", "verifier", "checked_at")
    list_filter = ("status", "verifier")
    search_fields = ("person_name", "provider__legal_name")


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "provider", "kind", "content_type", "size", "uploaded_at")
    list_filter = ("kind", "content_type")
    search_fields = ("original_name", "provider__legal_name", "sha256")
    exclude = ("file",)  # served only by the audit desk's checked view


@admin.register(DepositEntry)
class DepositEntryAdmin(ReadOnlyAdmin):
    list_display = ("provider", "kind", "amount", "currency", "reference", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("provider__legal_name", "reference")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "application", "action", "actor", "to_status")
    list_filter = ("action", "by_staff")
    search_fields = ("provider__legal_name", "note")
    list_select_related = ("provider", "actor", "application")
