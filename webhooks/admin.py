"""Webhooks in the admin: endpoints (the secret is shown once, when made or rotated, never
after), their messages and every attempt."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .forms import ReplayForm
from .models import EVENT_TYPES, WebhookAttempt, WebhookEndpoint, WebhookMessage


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event type."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("owner", "url", "description", "event_types")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = EndpointForm
    list_display = ("id", "url", "owner", "active", "disabled_reason", "created_at")
    list_filter = ("active", "created_at")
    search_fields = ("url", "description", "owner__name", "owner__prefix")
    list_select_related = ("owner",)
    readonly_fields = (
        "active",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "previous_secret_expires_at",
    )
    actions = ["rotate_secret", "disable", "enable", "replay_since"]

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            services.endpoint_update(
                endpoint=obj,
                url=data["url"],
                description=data["description"],
                event_types=data["event_types"],
            )
            return
        endpoint, secret = services.endpoint_create(
            owner=data["owner"],
            url=data["url"],
            description=data["description"],
            event_types=data["event_types"],
        )
        obj.pk = endpoint.pk
        obj.created_at = endpoint.created_at
        self.message_user(
            request,
            _("The signing secret of %(url)s, shown this once: %(secret)s")
            % {"url": endpoint.url, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Rotate the secret (the old one signs for 24 hours more)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = services.endpoint_rotate_secret(endpoint=endpoint)
            self.message_user(
                request,
                _("The new signing secret of %(url)s, shown this once: %(secret)s")
                % {"url": endpoint.url, "secret": secret},
                messages.WARNING,
            )

    @admin.action(description=_("Disable (stop sending; messages wait)"))
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = sum(
            services.endpoint_disable(endpoint_id=pk, reason=str(_("Disabled by staff.")))
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, ngettext("%d endpoint disabled.", "%d endpoints disabled.", count) % count
        )

    @admin.action(description=_("Enable (send what waits)"))
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = sum(
            services.endpoint_enable(endpoint_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, ngettext("%d endpoint enabled.", "%d endpoints enabled.", count) % count
        )

    @admin.action(description=_("Replay the events since a moment…"))
    def replay_since(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> TemplateResponse | None:
        """A page asking since when (a day ago offered); the replay once it is valid."""
        form = ReplayForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            since = form.cleaned_data["since"]
            count = sum(
                services.endpoint_replay(endpoint_id=pk, since=since)
                for pk in queryset.values_list("pk", flat=True)
            )
            self.message_user(
                request, ngettext("%d message to send.", "%d messages to send.", count) % count
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Replay webhook events"),
            "opts": self.model._meta,
            "form": form,
            "endpoints": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/replay.html", context)


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "latency_ms", "error", "response")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "endpoint")
    search_fields = ("=event__event_id", "=member_id", "event__type", "endpoint__url")
    list_select_related = ("endpoint", "event")
    readonly_fields = [f.name for f in WebhookMessage._meta.fields]
    inlines = [AttemptInline]
    actions = ["resend_now"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Resend now"))
    def resend_now(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        count = services.messages_resend(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request, ngettext("%d message to send.", "%d messages to send.", count) % count
        )
