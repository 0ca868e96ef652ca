from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from members.models import ApiKey, Member

from .services import api_key_create, api_key_revoke


@admin.register(Member)
class MemberAdmin(UserAdmin):
    list_display = ("email", "number", "name", "joined_on", "language", "is_active", "is_staff")
    list_filter = ("is_staff", "is_active", "language", "marketing_consent", "joined_on")
    search_fields = ("email", "=number", "name")
    ordering = ("-date_joined",)
    readonly_fields = ("number", "date_joined", "last_login", "birthday_set_on")
    date_hierarchy = "date_joined"
    fieldsets = (
        (None, {"fields": ("email", "number", "password")}),
        (
            _("Profile"),
            {
                "fields": (
                    "name",
                    "joined_on",
                    "birthday",
                    "birthday_set_on",
                    "language",
                    "marketing_consent",
                )
            },
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ("groups", "user_permissions")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "prefix", "created_at", "last_used_at", "status")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("name", "=prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    fields = ("name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    class Media:
        css = {"all": ("css/admin.css",)}

    @admin.display(description=_("status"))
    def status(self, obj: ApiKey) -> str:
        if obj.is_revoked:
            return format_html('<span class="key-revoked">{}</span>', _("revoked"))
        return format_html('<span class="key-active">{}</span>', _("active"))

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, full = api_key_create(name=obj.name, created_by=request.user)  # type: ignore[arg-type]
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code>",
                _("The new key is shown only this once. Copy it now:"),
                full,
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key)
        self.message_user(request, _("Revoked."), messages.SUCCESS)
