"""Webhooks in the admin: endpoints of API keys and of partner companies (the secret is shown
once, when made or rotated, never after), their messages and every attempt."""

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
from .forms import AdminReplayForm
from .models import (
    EVENT_TYPES,
    PARTNER_EVENT_TYPES,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    event_types_for,
)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(t, t) for t in [*EVENT_TYPES, *PARTNER_EVENT_TYPES]],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "None ticked: every event type of its owner's kind. An API key's endpoint gets "
            "the member program's types; a partner company's, the partner.* types about it."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("owner", "provider", "url", "description", "event_types")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk:  # the owner is not changed on an existing endpoint
            partner = self.instance.is_partners
        else:
            if bool(data.get("owner")) == bool(data.get("provider")):
                return data  # the model's check constraint says so (webhook_endpoint_one_owner)
            partner = bool(data.get("provider"))
        refused = [
            t for t in data.get("event_types", []) if t not in event_types_for(partner=partner)
        ]
        if refused:
            self.add_error(
                "event_types",
                _("Not for this kind of owner: %(types)s") % {"types": ", ".join(refused)},
            )
        return data


class OwnerKindFilter(admin.SimpleListFilter):
    title = _("owner")
    parameter_name = "owner_kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("api_key", _("API key")), ("partner", _("Partner company"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> QuerySet[WebhookEndpoint]:
        if self.value() == "api_key":
            return queryset.filter(owner__isnull=False)
        if self.value() == "partner":
            return queryset.filter(provider__isnull=False)
        return queryset


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = EndpointForm
    list_display = ("id", "url", "owned_by", "active", "disabled_reason", "created_at")
    list_filter = (OwnerKindFilter, "active", "created_at")
    search_fields = ("url", "description", "owner__name", "owner__prefix", "provider__legal_name")
    list_select_related = ("owner", "provider")
    readonly_fields = (
        "active",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "previous_secret_expires_at",
    )
    actions = ["rotate_secret", "disable", "enable", "replay_since"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        owners = ("owner", "provider") if obj is not None else ()
        return (*owners, *self.readonly_fields)

    @admin.display(description=_("owner"))
    def owned_by(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.provider is not None:
            return _("Partner company: %(name)s") % {"name": endpoint.provider}
        return _("API key: %(name)s") % {"name": endpoint.owner}

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
            owner=data.get("owner"),
            provider=data.get("provider"),
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
        form = AdminReplayForm(request.POST if "apply" in request.POST else None)
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
