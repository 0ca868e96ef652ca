"""The partner portal's webhook pages, under /partners/webhooks/."""

from django.urls import path

from . import partner_views as views

app_name = "partner_webhooks"

urlpatterns = [
    path("", views.endpoints, name="endpoints"),
    path("new/", views.endpoint_new, name="new"),
    path("<int:pk>/", views.endpoint, name="endpoint"),
    path("<int:pk>/secret/", views.secret, name="secret"),
    path("<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path("<int:pk>/rotate-secret/", views.endpoint_rotate, name="rotate"),
    path("<int:pk>/disable/", views.endpoint_disable, name="disable"),
    path("<int:pk>/enable/", views.endpoint_enable, name="enable"),
    path("<int:pk>/replay/", views.endpoint_replay, name="replay"),
    path(
        "<int:pk>/messages/<int:message_pk>/resend/",
        views.message_resend,
        name="resend",
    ),
]
