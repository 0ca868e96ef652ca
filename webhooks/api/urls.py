from django.urls import path

from . import views

urlpatterns = [
    path(
        "webhook-endpoints/",
        views.EndpointListView.as_view(),
        name="api-webhook-endpoints",
    ),
    path(
        "webhook-endpoints/<int:pk>/",
        views.EndpointDetailView.as_view(),
        name="api-webhook-endpoint",
    ),
    path(
        "webhook-endpoints/<int:pk>/rotate-secret/",
        views.EndpointRotateSecretView.as_view(),
        name="api-webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<int:pk>/messages/",
        views.EndpointMessagesView.as_view(),
        name="api-webhook-endpoint-messages",
    ),
    path(
        "webhook-endpoints/<int:pk>/messages/<int:message_pk>/",
        views.EndpointMessageView.as_view(),
        name="api-webhook-endpoint-message",
    ),
    path(
        "webhook-endpoints/<int:pk>/messages/<int:message_pk>/resend/",
        views.MessageResendView.as_view(),
        name="api-webhook-endpoint-message-resend",
    ),
    path(
        "webhook-endpoints/<int:pk>/replay/",
        views.EndpointReplayView.as_view(),
        name="api-webhook-endpoint-replay",
    ),
]
