from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _

from .forms import AdjustmentForm
from .models import Campaign, EarningRule, Order, PointEntry, Program, Tier
from .services import points_adjust


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


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PointEntry)
class PointEntryAdmin(ReadOnlyAdmin):
    """The ledger, read-only. Corrections go through "Adjust points" (a new entry)."""

    list_display = ("occurred_at", "member", "kind", "points", "reason", "rule", "campaign")
    list_filter = ("kind", "rule", "campaign", "occurred_at")
    search_fields = ("member__number", "member__email", "reason", "order__number", "event__key")
    list_select_related = ("member", "rule", "campaign")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    show_full_result_count = False
    change_list_template = "admin/loyalty/pointentry/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        adjust = path(
            "adjust/",
            self.admin_site.admin_view(self.adjust_view),
            name="loyalty_pointentry_adjust",
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("loyalty.add_pointentry"):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            member = form.cleaned_data["member"]
            try:
                entry = points_adjust(
                    member_id=member.pk,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    created_by_id=request.user.pk,
                )
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict)
            else:
                messages.success(
                    request,
                    _("%(points)+d points recorded for member %(number)s.")
                    % {"points": entry.points, "number": member.number},
                )
                return redirect("admin:loyalty_pointentry_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/loyalty/adjust.html", context)


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin[EarningRule]):
    list_display = ("name", "kind", "points", "min_amount", "cap", "cap_period", "cap_group")
    list_filter = ("active",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = ("name", "starts_on", "ends_on", "multiplier", "bonus_points", "active")
    list_filter = ("active",)
    search_fields = ("name",)
    filter_horizontal = ("tiers",)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("number", "member", "amount", "currency", "returned_amount", "fraud")
    search_fields = ("number", "member__number", "member__email")
    list_filter = ("fraud",)
    list_select_related = ("member",)
