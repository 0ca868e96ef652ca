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
from ..models import WebhookEndpoint
from ..selectors import endpoint_messages, endpoints_of
from .serializers import (
    EndpointListSerializer,
    EndpointPatchSerializer,
    EndpointRequestSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    MessageListSerializer,
    MessageSerializer,
)

NOT_FOUND = OpenApiResponse(description="webhook_endpoint_not_found (also another key's)")
_BIGINT = 2**63 - 1


def _api_key(request: Request) -> ApiKey:
    assert isinstance(request.auth, ApiKey)
    return request.auth


def _own(request: Request, pk: int) -> WebhookEndpoint:
    endpoint = endpoints_of(_api_key(request)).filter(pk=pk).first() if pk <= _BIGINT else None
    if endpoint is None:
        raise ApiError(404, "webhook_endpoint_not_found", _("No such webhook endpoint."))
    return endpoint


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
