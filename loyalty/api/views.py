from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.earning import Outcome, body_hash, event_ingest
from loyalty.models import PointEntry, program_pinned
from loyalty.selectors import point_history, tier_ladder
from loyalty.services import LedgerError
from members.api.errors import ApiError, exception_handler
from members.api.permissions import IsIntegration, IsMember
from members.models import ApiKey, Member

from .serializers import (
    BatchAnswerSerializer,
    BatchSerializer,
    EventAnswerSerializer,
    EventSerializer,
    PointEntrySerializer,
    RedemptionSerializer,
    TierSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="invalid: field errors"),
    404: OpenApiResponse(description="member_not_found"),
    409: OpenApiResponse(description="idempotency_conflict, order_already_received"),
    422: OpenApiResponse(description="order_not_found, insufficient_points"),
}


def _member_or_404(number: Any, known: dict[str, int] | None = None) -> tuple[int, str]:
    number = str(number)
    if known is not None:
        found = known.get(number)
    else:
        pk = Member.objects.filter(number=number, is_active=True).values_list("pk", flat=True)
        found = pk.first()
    if found is None:
        raise ApiError(404, "member_not_found", "No member with this number.")
    return found, number


def _ingest(api_key: ApiKey, raw: Any, known: dict[str, int] | None = None) -> Outcome:
    """Validate and apply one event; raises what the error handler turns into JSON.
    `known`: member numbers to ids, looked up once for a whole batch."""
    payload = EventSerializer(data=raw)
    payload.is_valid(raise_exception=True)
    event = payload.validated_data
    member_id, number = _member_or_404(event["member"], known)
    try:
        return event_ingest(
            api_key=api_key,
            key=event["id"],
            type=event["type"],
            member_id=member_id,
            member_number=number,
            occurred_at=event["occurred_at"],
            data=event["data"],
            digest=body_hash(raw),
        )
    except LedgerError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc


def _as_result(api_key: ApiKey, raw: Any, known: dict[str, int]) -> dict[str, Any]:
    try:
        outcome = _ingest(api_key, raw, known)
    except (APIException, DjangoValidationError) as exc:
        response = exception_handler(exc, {})
        assert response is not None
        result = {"status": response.status_code, **response.data}
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            result["id"] = raw["id"]
        return result
    return {"status": 201 if outcome.created else 200, **outcome.answer}


class EventView(APIView):
    """Report one thing a member did (API key). Idempotent per event id."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=EventSerializer,
        responses={201: EventAnswerSerializer, 200: EventAnswerSerializer, **ERRORS},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, ApiKey)
        with program_pinned():
            outcome = _ingest(request.auth, request.data)
        return Response(
            outcome.answer,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class EventBatchView(APIView):
    """Up to 500 events; one result per event, in order. Each is applied whole or not at all."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=BatchSerializer,
        responses={200: BatchAnswerSerializer, 400: ERRORS[400]},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, ApiKey)
        batch = BatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        events = batch.validated_data["events"]
        numbers = {str(e.get("member")) for e in events if isinstance(e, dict)}
        known = dict(
            Member.objects.filter(number__in=numbers, is_active=True).values_list("number", "pk")
        )
        with program_pinned():
            results = [_as_result(request.auth, raw, known) for raw in events]
        return Response({"results": results})


class RedemptionView(APIView):
    """Spend a member's points (API key). Idempotent per id, like events."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=RedemptionSerializer,
        responses={201: EventAnswerSerializer, 200: EventAnswerSerializer, **ERRORS},
        tags=["points"],
    )
    def post(self, request: Request, number: str) -> Response:
        assert isinstance(request.auth, ApiKey)
        payload = RedemptionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        member_id, number = _member_or_404(number)
        data = payload.validated_data
        try:
            outcome = event_ingest(
                api_key=request.auth,
                key=data["id"],
                type="redemption",
                member_id=member_id,
                member_number=number,
                occurred_at=timezone.now(),
                data={"points": data["points"], "reason": data["reason"]},
                digest=body_hash({"member": number, **request.data}),
            )
        except LedgerError as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from exc
        return Response(
            outcome.answer,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class NewestFirst(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


KIND_FILTER = OpenApiParameter("kind", str, enum=[k for k, _label in PointEntry.Kind.choices])


class _HistoryView(generics.ListAPIView):
    serializer_class = PointEntrySerializer
    pagination_class = NewestFirst

    def member_id(self) -> int:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[PointEntry]:
        kind = self.request.query_params.get("kind") or None
        return point_history(self.member_id(), kind).select_related("order")


@extend_schema(tags=["points"], parameters=[KIND_FILTER])
class MemberPointsView(_HistoryView):
    """A member's point entries, newest first (API key)."""

    permission_classes = [IsIntegration]

    def member_id(self) -> int:
        return _member_or_404(self.kwargs["number"])[0]


@extend_schema(tags=["me"], parameters=[KIND_FILTER])
class MyPointsView(_HistoryView):
    """The logged-in member's point entries, newest first (session)."""

    permission_classes = [IsMember]

    def member_id(self) -> int:
        return int(self.request.user.pk or 0)


class TierListView(APIView):
    """The tier ladder, lowest first (API key or member session)."""

    permission_classes = [IsIntegration | IsMember]

    @extend_schema(responses={200: TierSerializer(many=True)}, tags=["tiers"])
    def get(self, request: Request) -> Response:
        return Response(TierSerializer(tier_ladder(), many=True).data)
