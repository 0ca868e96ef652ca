"""The outbox in the admin: what happened, and where each subscriber is with it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import outbox
from .models import OutboxDelivery, OutboxEvent


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A record staff read and never add, edit or delete (a ledger, an audit trail)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = OutboxDelivery
    extra = 0
    can_delete = False
    fields = ("subscriber", "status", "attempts", "next_attempt_at", "done_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "member_id", "member_seq", "occurred_at", "created_at")
    list_filter = ("type", "occurred_at")
    search_fields = ("=event_id", "=member_id", "type")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    inlines = [DeliveryInline]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # a count of millions of rows is not worth its time


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event", "subscriber", "status", "attempts", "next_attempt_at", "done_at")
    list_filter = ("status", "subscriber")
    search_fields = ("=event__event_id", "=event__member_id", "event__type", "last_error")
    list_select_related = ("event",)
    readonly_fields = [f.name for f in OutboxDelivery._meta.fields]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Try the selected deliveries again now"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxDelivery]) -> None:
        count = outbox.retry(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery will be tried again.",
                "%(count)d deliveries will be tried again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
        if count:
            outbox.wake()
