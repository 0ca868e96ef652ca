from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from core.clock import program_today
from loyalty.earning.models import Contribution, Order
from loyalty.ledger.models import PointEntry
from loyalty.ledger.services import points_adjust
from loyalty.program.models import Campaign, EarningRule, Program, Tier
from loyalty.tiers.models import TierChange, TierFloor, TierRun
from loyalty.tiers.services import ladder_validate, tier_floor_set, tiers_what_if

from .forms import AdjustmentForm


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ("name", "currency", "time_zone", "qualifying_window_months", "expiry_policy")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Program.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Program | None = None) -> bool:
        return False


class TierAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Tier
        fields = (
            "code",
            "name",
            "rank",
            "min_points",
            "discount_percent",
            "fast_refund_limit",
            "badge_colour",
            "description",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        rank, points = cleaned.get("rank"), cleaned.get("min_points")
        if rank is None or points is None:
            return cleaned
        others = Tier.objects.exclude(pk=self.instance.pk).values_list("rank", "min_points")
        try:
            ladder_validate([*others, (rank, points)])
        except ValidationError as error:
            field = "rank" if error.code == "rank_duplicate" else "min_points"
            self.add_error(field, error)
        return cleaned


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin[Tier]):
    form = TierAdminForm
    list_display = ("name", "code", "rank", "min_points", "discount_percent", "fast_refund_limit")
    search_fields = ("name", "code")
    ordering = ("rank",)
    change_list_template = "admin/loyalty/tier/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "what-if/",
                self.admin_site.admin_view(self.what_if_view),
                name="loyalty_tier_what_if",
            ),
            *super().get_urls(),
        ]

    def what_if_view(self, request: HttpRequest) -> HttpResponse:
        """Other thresholds -> members per tier and how many would move, before saving."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        ladder = list(Tier.objects.order_by("rank"))
        form = WhatIfForm(request.GET or None, ladder=ladder)
        rows = None
        if form.is_bound and form.is_valid():
            try:
                rows = tiers_what_if(thresholds=form.thresholds(), as_of=form.cleaned_data["as_of"])
            except ValidationError as error:
                form.add_error(None, error)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("What if the thresholds were…"),
            "form": form,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/loyalty/tier/what_if.html", context)


class WhatIfForm(forms.Form):
    as_of = forms.DateField(label=_("Evaluated as of"))

    def __init__(self, *args: Any, ladder: list[Tier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ladder = ladder
        self.fields["as_of"].initial = program_today()
        for tier in ladder:
            self.fields[f"tier_{tier.pk}"] = forms.IntegerField(
                label=tier.name, min_value=0, initial=tier.min_points
            )

    def tier_fields(self) -> list[forms.BoundField]:
        return [self[f"tier_{tier.pk}"] for tier in self.ladder]

    def thresholds(self) -> dict[int, int]:
        return {tier.pk: self.cleaned_data[f"tier_{tier.pk}"] for tier in self.ladder}


class TierFloorForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = TierFloor
        fields = ("member", "tier", "until", "reason")


@admin.register(TierFloor)
class TierFloorAdmin(admin.ModelAdmin[TierFloor]):
    """Staff set floors here; a floor is never edited or deleted (the rows are the audit)."""

    form = TierFloorForm
    list_display = ("member", "tier", "until", "reason", "created_by", "created_at")
    list_filter = ("tier", "until")
    search_fields = ("member__email", "=member__number", "reason")
    raw_id_fields = ("member",)
    list_select_related = ("member", "tier", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: TierFloor | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TierFloor | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TierFloor, form: Any, change: bool) -> None:
        saved = tier_floor_set(
            member_id=obj.member_id,
            tier_id=obj.tier_id,
            until=obj.until,
            reason=obj.reason,
            created_by_id=int(request.user.pk or 0),
        )
        obj.pk = saved.pk


@admin.register(TierChange)
class TierChangeAdmin(admin.ModelAdmin[TierChange]):
    list_display = (
        "member",
        "period",
        "from_tier",
        "to_tier",
        "direction",
        "kind",
        "qualifying_points",
        "effective_on",
        "applied",
        "floor_reason",
    )
    list_filter = ("period", "direction", "kind", "applied", "to_tier")
    search_fields = ("member__email", "=member__number")
    list_select_related = ("member", "from_tier", "to_tier", "floor__created_by")
    date_hierarchy = "period"

    @admin.display(description=_("floor reason"))
    def floor_reason(self, obj: TierChange) -> str:
        """A floor's change: the staff reason and who set it."""
        if obj.floor is None:
            return ""
        return f"{obj.floor.reason} ({obj.floor.created_by})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TierChange | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TierChange | None = None) -> bool:
        return False


@admin.register(TierRun)
class TierRunAdmin(admin.ModelAdmin[TierRun]):
    list_display = (
        "period",
        "status",
        "progress",
        "moved_up",
        "moved_down",
        "unchanged",
        "work_left",
        "started_at",
        "finished_at",
    )
    list_filter = ("status",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TierRun]:
        left = Q(chunks__done=False)
        return super().get_queryset(request).annotate(chunks_left=Count("chunks", filter=left))

    @admin.display(description=_("chunks with work left"), ordering="chunks_left")
    def work_left(self, obj: TierRun) -> int:
        """Chunks not evaluated yet (what follows from the changes is in the outbox)."""
        return int(getattr(obj, "chunks_left", 0))

    @admin.display(description=_("progress"))
    def progress(self, obj: TierRun) -> str:
        about = "" if obj.status == TierRun.Status.DONE else "≈"  # an estimate while running
        return format_html(
            '<progress value="{}" max="100" title="{}%">{}%</progress> {} / {}{}',
            obj.percent,
            obj.percent,
            obj.percent,
            obj.processed,
            about,
            obj.total,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TierRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TierRun | None = None) -> bool:
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


@admin.register(Contribution)
class ContributionAdmin(ReadOnlyAdmin):
    list_display = ("kind", "ref", "member", "posted_at")
    search_fields = ("ref", "member__number", "member__email")
    list_filter = ("kind",)
    list_select_related = ("member",)
