"""`/api/v1/webhook-endpoints/`: an integration's own endpoints (another key's answer 404).
The signing secret is in the answers of the creation and of a rotation only."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError
from core.api.pagination import CursorPagination
from members.api.permissions import IsIntegration
from members.models import ApiKey

from .. import services
from ..models import WebhookEndpoint, WebhookMessage
from ..selectors import (
    ATTEMPTS_SHOWN,
    endpoint_message,
    endpoint_messages,
    endpoints_of,
    message_attempts,
)
from .serializers import (
    EndpointListSerializer,
    EndpointPatchSerializer,
    EndpointRequestSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    MessageDetailSerializer,
    MessageListSerializer,
    MessageSerializer,
    ReplayResultSerializer,
    ReplaySerializer,
)

NOT_FOUND = OpenApiResponse(description="webhook_endpoint_not_found (also another key's)")
MESSAGE_NOT_FOUND = OpenApiResponse(
    description="webhook_endpoint_not_found, webhook_message_not_found (also another key's)"
)
_BIGINT = 2**63 - 1


def _api_key(request: Request) -> ApiKey:
    assert isinstance(request.auth, ApiKey)
    return request.auth


def _own(request: Request, pk: int) -> WebhookEndpoint:
    endpoint = endpoints_of(_api_key(request)).filter(pk=pk).first() if pk <= _BIGINT else None
    if endpoint is None:
        raise ApiError(404, "webhook_endpoint_not_found", _("No such webhook endpoint."))
    return endpoint


def _own_message(request: Request, pk: int, message_pk: int) -> WebhookMessage:
    endpoint = _own(request, pk)
    message = endpoint_message(endpoint, message_pk) if message_pk <= _BIGINT else None
    if message is None:
        raise ApiError(404, "webhook_message_not_found", _("No such webhook message."))
    return message


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    endpoint.secret = secret  # type: ignore[attr-defined]  # shown in this answer only
    return dict(EndpointWithSecretSerializer(endpoint).data)


class NewestEndpointsFirst(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class EndpointListView(APIView):
    """The key's endpoints, and registering a new one."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="v1_webhook_endpoints_list",
        responses={200: EndpointListSerializer},
        tags=["webhooks"],
    )
    def get(self, request: Request) -> Response:
        paginator = NewestEndpointsFirst()
        page = paginator.paginate_queryset(endpoints_of(_api_key(request)), request)
        return paginator.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        request=EndpointRequestSerializer,
        responses={201: EndpointWithSecretSerializer},
        tags=["webhooks"],
    )
    def post(self, request: Request) -> Response:
        payload = EndpointRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            owner=_api_key(request), **payload.validated_data
        )
        return Response(
            _with_secret(endpoint, secret),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-webhook-endpoint", args=[endpoint.pk])},
        )


class EndpointDetailView(APIView):
    """One of the key's endpoints: read, change, delete."""

    permission_classes = [IsIntegration]

    @extend_schema(responses={200: EndpointSerializer, 404: NOT_FOUND}, tags=["webhooks"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(EndpointSerializer(_own(request, pk)).data)

    @extend_schema(
        request=EndpointPatchSerializer,
        responses={200: EndpointSerializer, 404: NOT_FOUND},
        tags=["webhooks"],
    )
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = _own(request, pk)
        payload = EndpointPatchSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **payload.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND}, tags=["webhooks"])
    def delete(self, request: Request, pk: int) -> Response:
        services.endpoint_delete(endpoint=_own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretView(APIView):
    """A new signing secret; the old one keeps signing beside it for 24 hours."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=None,
        responses={200: EndpointWithSecretSerializer, 404: NOT_FOUND},
        tags=["webhooks"],
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = _own(request, pk)
        secret = services.endpoint_rotate_secret(endpoint=endpoint)
        return Response(_with_secret(endpoint, secret))


class EndpointMessagesView(APIView):
    """What was sent to one of the key's endpoints, newest first: each event's webhook-id,
    its state and how many tries it took."""

    permission_classes = [IsIntegration]

    @extend_schema(responses={200: MessageListSerializer, 404: NOT_FOUND}, tags=["webhooks"])
    def get(self, request: Request, pk: int) -> Response:
        endpoint = _own(request, pk)
        paginator = NewestEndpointsFirst()
        page = paginator.paginate_queryset(endpoint_messages(endpoint), request)
        return paginator.get_paginated_response(MessageSerializer(page, many=True).data)


class EndpointMessageView(APIView):
    """One message sent to one of the key's endpoints, with its latest tries."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="v1_webhook_endpoints_message_retrieve",
        responses={200: MessageDetailSerializer, 404: MESSAGE_NOT_FOUND},
        tags=["webhooks"],
    )
    def get(self, request: Request, pk: int, message_pk: int) -> Response:
        message = _own_message(request, pk, message_pk)
        message.recent_attempts = list(  # type: ignore[attr-defined]
            message_attempts(message)[:ATTEMPTS_SHOWN]
        )
        return Response(MessageDetailSerializer(message).data)


class MessageResendView(APIView):
    """Send a message again now, with the same `webhook-id` (a delivered or failed one too).
    Its tries start again from the first."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="v1_webhook_endpoints_message_resend",
        request=None,
        responses={202: MessageSerializer, 404: MESSAGE_NOT_FOUND},
        tags=["webhooks"],
    )
    def post(self, request: Request, pk: int, message_pk: int) -> Response:
        message = _own_message(request, pk, message_pk)
        services.messages_resend(message_ids=[message.pk])
        message.refresh_from_db()
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class EndpointReplayView(APIView):
    """Send again every event of the endpoint's types that occurred since a moment, with
    the same `webhook-id`s as before (receivers deduplicate on it). A member's events go out
    in their order; replaying again while they wait adds nothing."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="v1_webhook_endpoints_replay",
        request=ReplaySerializer,
        responses={
            202: ReplayResultSerializer,
            400: OpenApiResponse(description="invalid (`since` missing or not a date-time)"),
            404: NOT_FOUND,
            422: OpenApiResponse(description="replay_since_in_the_future"),
        },
        tags=["webhooks"],
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = _own(request, pk)
        payload = ReplaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        since = payload.validated_data["since"]
        try:
            count = services.endpoint_replay(endpoint_id=endpoint.pk, since=since)
        except services.ReplayRefused as refused:
            raise ApiError(
                422, refused.code, refused.message, fields={"since": [refused.message]}
            ) from refused
        return Response({"messages": count}, status=status.HTTP_202_ACCEPTED)
