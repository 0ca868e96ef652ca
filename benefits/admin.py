from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib import messages as admin_messages
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from benefits.catalogue.benefits import benefit_matrix_update
from benefits.catalogue.forms import BenefitMatrixForm
from benefits.catalogue.models import Benefit, Reward, RewardExchange, TierBenefit
from benefits.coupons.models import (
    Coupon,
    CouponIssueJob,
    CouponRedemption,
    CouponTemplate,
    DailyQuotaCounter,
)
from benefits.coupons.services import coupon_issue_job_start, coupon_issue_jobs_resume, coupons_void
from benefits.engagement.events import attendees_csv, event_waitlist_fill
from benefits.engagement.models import (
    Brand,
    EventRsvp,
    FeaturedBrand,
    FeaturedBrandDiscount,
    MemberEvent,
    Sale,
    SaleEarlyAccess,
)
from core.admin import ReadOnlyAdmin
from loyalty.program.models import Tier


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin[CouponTemplate]):
    list_display = (
        "name",
        "code",
        "occasion",
        "kind",
        "value",
        "currency",
        "min_order",
        "issued_count",
        "total_quantity",
        "daily_quota",
        "active",
    )
    list_filter = ("occasion", "kind", "active")
    search_fields = ("name", "code")
    filter_horizontal = ("eligible_tiers",)
    readonly_fields = ("issued_count", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "code", "occasion", "active", "description")}),
        (_("Value"), {"fields": ("kind", "value", "currency", "min_order")}),
        (_("Validity"), {"fields": ("valid_days", "valid_from", "valid_until")}),
        (
            _("Who and how many"),
            {
                "fields": (
                    "eligible_tiers",
                    "per_member_limit",
                    "total_quantity",
                    "daily_quota",
                    "issued_count",
                )
            },
        ),
    )


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin[Coupon]):
    list_display = ("code", "member", "template", "occasion", "status", "valid_until", "issued_at")
    list_filter = ("status", "occasion", "template")
    search_fields = ("code", "member__email", "member__number")
    list_select_related = ("member", "template")
    raw_id_fields = ("member",)
    readonly_fields = tuple(f.name for f in Coupon._meta.fields)

    actions = ("void_coupons",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # coupons are issued by the services (jobs, level-up, staff issues)

    @admin.action(description=_("Void the selected available coupons"), permissions=["change"])
    def void_coupons(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        count = coupons_void(coupon_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)d coupon(s) voided.") % {"count": count})


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(admin.ModelAdmin[CouponRedemption]):
    list_display = (
        "request_id",
        "coupon",
        "order_number",
        "discount",
        "redeemed_at",
        "released_at",
    )
    search_fields = ("request_id", "order_number", "coupon__code")
    list_select_related = ("coupon",)
    readonly_fields = tuple(f.name for f in CouponRedemption._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DailyQuotaCounter)
class DailyQuotaCounterAdmin(admin.ModelAdmin[DailyQuotaCounter]):
    list_display = ("template", "day", "claimed")
    list_filter = ("template",)
    readonly_fields = ("template", "day", "claimed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CouponIssueJob)
class CouponIssueJobAdmin(admin.ModelAdmin[CouponIssueJob]):
    """Staff issue a template to a filtered set of members; a background task does the work."""

    list_display = (
        "template",
        "reason",
        "status",
        "progress",
        "issued",
        "skipped",
        "round",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    filter_horizontal = ("tiers",)
    actions = ("resume",)
    progress_fields = (
        "status",
        "total",
        "processed",
        "issued",
        "skipped",
        "round",
        "progressed_at",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    )

    @admin.display(description=_("progress"))
    def progress(self, obj: CouponIssueJob) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}/{}',
            obj.progress_percent,
            obj.processed,
            obj.total,
        )

    @admin.display(description=_("skipped (already had one)"))
    def skipped(self, obj: CouponIssueJob) -> int:
        return obj.skipped

    @admin.action(description=_("Resume the selected jobs from where they stopped"))
    def resume(self, request: HttpRequest, queryset: QuerySet[CouponIssueJob]) -> None:
        queued, done = coupon_issue_jobs_resume(job_ids=queryset.values_list("pk", flat=True))
        if queued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d job will resume from where it stopped.",
                    "%(count)d jobs will resume from where they stopped.",
                    queued,
                )
                % {"count": queued},
                admin_messages.SUCCESS,
            )
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d job was already done: nothing to resume.",
                    "%(count)d jobs were already done: nothing to resume.",
                    done,
                )
                % {"count": done},
                admin_messages.WARNING,
            )

    def get_readonly_fields(self, request: HttpRequest, obj: CouponIssueJob | None = None) -> Any:
        if obj is None:
            return self.progress_fields
        return [f.name for f in CouponIssueJob._meta.fields] + ["tiers", "progress", "skipped"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponIssueJob]:
        return super().get_queryset(request).select_related("template", "created_by")

    def save_model(
        self, request: HttpRequest, obj: CouponIssueJob, form: ModelForm, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            coupon_issue_job_start(job=form.instance)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# =============================================================================================
# Brands, brand of the week, member events, early-access sales.
# =============================================================================================


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin[Brand]):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "code", "categories", "active")
    list_filter = ("active",)
    search_fields = ("name", "code", "categories")
    prepopulated_fields = {"code": ("name",)}


class FeaturedBrandDiscountInline(admin.TabularInline[FeaturedBrandDiscount, FeaturedBrand]):
    model = FeaturedBrandDiscount
    extra = 0
    min_num = 0


@admin.register(FeaturedBrand)
class FeaturedBrandAdmin(admin.ModelAdmin[FeaturedBrand]):
    """Staff schedule the brand of each week (one per week) and each tier's extra discount."""

    list_display = ("week_start", "brand", "headline")
    list_select_related = ("brand",)
    date_hierarchy = "week_start"
    autocomplete_fields = ("brand",)
    inlines = (FeaturedBrandDiscountInline,)


class EventRsvpInline(admin.TabularInline[EventRsvp, MemberEvent]):
    """Answers are the members' own (benefits/events.py); staff read them here."""

    model = EventRsvp
    extra = 0
    fields = ("member", "status", "answered_at", "promoted_at", "cancelled_at")
    readonly_fields = fields
    ordering = ("status", "answered_at", "pk")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The editable columns of an event (not `seats_taken`, which only the RSVP services write).
_EVENT_COLUMNS = {
    f.name
    for f in MemberEvent._meta.concrete_fields
    if f.name not in ("id", "seats_taken", "created_at")
}


@admin.register(MemberEvent)
class MemberEventAdmin(admin.ModelAdmin[MemberEvent]):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "title",
        "starts_at",
        "host_brand",
        "capacity",
        "seats_taken",
        "waiting",
        "rsvp_deadline",
        "published",
    )
    list_filter = ("published", "host_brand")
    search_fields = ("title", "place")
    list_select_related = ("host_brand",)
    filter_horizontal = ("eligible_tiers",)
    readonly_fields = ("seats_taken",)
    inlines = (EventRsvpInline,)
    actions = ("export_attendees",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[MemberEvent]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                waiting_count=Count("rsvps", filter=Q(rsvps__status=EventRsvp.Status.WAITING))
            )
        )

    @admin.display(description=_("waiting"))
    def waiting(self, obj: MemberEvent) -> int:
        return int(getattr(obj, "waiting_count", 0))

    def save_model(self, request: HttpRequest, obj: MemberEvent, form: Any, change: bool) -> None:
        """`seats_taken` belongs to the RSVP services (under the event's row lock): an edit
        never writes back the count it loaded, which an RSVP may have changed meanwhile."""
        if change:
            obj.save(update_fields=[f for f in form.changed_data if f in _EVENT_COLUMNS])
        else:
            obj.save()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        promoted = event_waitlist_fill(event_id=form.instance.pk)  # a raised capacity fills up
        if promoted:
            self.message_user(
                request,
                _("%(count)d member(s) moved up from the waiting list.") % {"count": len(promoted)},
            )

    @admin.action(description=_("Export attendees as CSV"))
    def export_attendees(
        self, request: HttpRequest, queryset: QuerySet[MemberEvent]
    ) -> HttpResponse:
        response = HttpResponse(attendees_csv(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="attendees.csv"'
        return response


class SaleEarlyAccessInline(admin.TabularInline[SaleEarlyAccess, Sale]):
    model = SaleEarlyAccess
    extra = 0


@admin.register(Sale)
class SaleAdmin(admin.ModelAdmin[Sale]):
    list_display = ("title", "brand", "public_start_at", "ends_at", "active")
    list_filter = ("active", "brand")
    search_fields = ("title",)
    list_select_related = ("brand",)
    inlines = (SaleEarlyAccessInline,)


# === The benefit catalogue and the reward shop ============================


@admin.register(Benefit)
class BenefitAdmin(admin.ModelAdmin[Benefit]):
    """Benefits; what each tier gets is edited in one table: "Edit the tier × benefit matrix"."""

    list_display = ("name", "code", "kind", "applies", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "code")
    change_list_template = "admin/benefits/benefit/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        matrix = path(
            "matrix/",
            self.admin_site.admin_view(self.matrix_view),
            name="benefits_benefit_matrix",
        )
        return [matrix, *super().get_urls()]

    def matrix_view(self, request: HttpRequest) -> Any:
        if not (
            self.has_change_permission(request) and request.user.has_perm("loyalty.change_tier")
        ):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        tiers = list(Tier.objects.order_by("rank"))
        benefits = list(Benefit.objects.order_by("position", "pk"))
        cells = {(c.tier_id, c.benefit_id): c for c in TierBenefit.objects.all()}
        form = BenefitMatrixForm(request.POST or None, tiers=tiers, benefits=benefits, cells=cells)
        if request.method == "POST" and form.is_valid():
            benefit_matrix_update(tier_values=form.tier_values(), cells=form.cell_values())
            self.message_user(request, _("The matrix was saved."), admin_messages.SUCCESS)
            return redirect("admin:benefits_benefit_matrix")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Tier × benefit matrix"),
            "form": form,
            "tiers": tiers,
        }
        return TemplateResponse(request, "admin/benefits/benefit/matrix.html", context)


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin[Reward]):
    """Rewards; saving or deleting one drops the dashboard snapshot (recommendations)."""

    list_display = (
        "name",
        "kind",
        "points",
        "stock",
        "categories",
        "coupon_template",
        "position",
        "active",
    )
    list_editable = ("stock", "position", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "categories")
    filter_horizontal = ("eligible_tiers",)
    list_select_related = ("coupon_template",)


@admin.register(RewardExchange)
class RewardExchangeAdmin(ReadOnlyAdmin):
    """Every exchange, read-only: who, which reward, the points and the coupon issued."""

    list_display = ("created_at", "member", "reward", "points", "status", "coupon")
    list_filter = ("status", "reward")
    search_fields = ("member__number", "member__email", "reward__name", "coupon__code")
    list_select_related = ("member", "reward", "coupon")
    readonly_fields = tuple(f.name for f in RewardExchange._meta.fields)
    date_hierarchy = "created_at"
