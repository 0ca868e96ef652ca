from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_body, exception_handler
from core.api.pagination import CursorPagination
from loyalty.earning import (
    KeyRevoked,
    LedgerEvent,
    Outcome,
    event_ingest,
    events_apply,
)
from loyalty.ledger.models import PointEntry
from loyalty.ledger.selectors import point_history
from loyalty.ledger.services import LedgerError
from loyalty.program.selectors import tier_ladder
from members.api.permissions import IsIntegration, IsMember
from members.models import ApiKey, Member

from .payloads import MAX_BATCH, BatchPayload, Context, EventPayload, body_hash, echo, event_from
from .serializers import (
    BatchAnswerSerializer,
    EventAnswerSerializer,
    PointEntrySerializer,
    RedemptionSerializer,
    TierSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="invalid: field errors"),
    404: OpenApiResponse(description="member_not_found"),
    409: OpenApiResponse(
        description="idempotency_conflict, order_already_received, review_already_received,"
        " post_already_received"
    ),
    422: OpenApiResponse(description="order_not_found, insufficient_points"),
}


def _member_or_404(number: str, *, api_key: ApiKey) -> int:
    """The member's id; the key is checked first, in the same query, so a key revoked while the
    request was in flight answers 401 whether the member exists or not (never a probe)."""
    found = (
        ApiKey.objects.filter(pk=api_key.pk)
        .annotate(
            member_id=Subquery(
                Member.objects.filter(number=number, is_active=True).values("pk")[:1]
            )
        )
        .values_list("revoked_at", "member_id")
        .first()
    )
    if found is None or found[0] is not None:
        raise ApiError(401, KeyRevoked.code, _("Invalid or revoked API key."))
    if found[1] is None:
        raise ApiError(404, "member_not_found", "No member with this number.")
    return int(found[1])


def _context() -> Context:
    return Context(now=timezone.now())


def _api_error(error: LedgerError) -> ApiError:
    return ApiError(error.status, error.code, str(error), getattr(error, "fields", None))


def _ledger_event(api_key: ApiKey, event: LedgerEvent) -> Outcome:
    try:
        return event_ingest(
            api_key=api_key,
            event=event,
            member_id=_member_or_404(event.member_number, api_key=api_key),
        )
    except LedgerError as exc:
        raise _api_error(exc) from exc


def _error_result(exc: Exception, raw: Any) -> dict[str, Any]:
    response = exception_handler(exc, {})
    assert response is not None
    result = {"status": response.status_code, **response.data}
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        result["id"] = echo(raw["id"].strip())
    return result


def _outcome_result(outcome: Any, key: str) -> dict[str, Any]:
    if isinstance(outcome, LedgerError):
        fields = getattr(outcome, "fields", None)
        return {
            "status": outcome.status,
            **error_body(outcome.code, str(outcome), fields),
            "id": key,
        }
    return {"status": 201 if outcome.created else 200, **outcome.answer}


def _batch_results(api_key: ApiKey, events: list[Any]) -> list[Any]:
    """One result per event, in order: the earning events between two ledger events go through
    the engine together; a ledger event alone; an invalid one answers its errors."""
    results: list[Any] = [None] * len(events)
    context = _context()
    run: list[tuple[int, Any]] = []

    def flush() -> None:
        outcomes = events_apply(api_key=api_key, events=[e for _i, e in run])
        for (index, event), outcome in zip(run, outcomes, strict=True):
            results[index] = _outcome_result(outcome, event.key)
        run.clear()

    for index, raw in enumerate(events):
        try:
            event = event_from(raw, context)
        except APIException as exc:
            results[index] = _error_result(exc, raw)
            continue
        if not isinstance(event, LedgerEvent):
            run.append((index, event))
            continue
        flush()
        try:
            results[index] = _outcome_result(_ledger_event(api_key, event), event.key)
        except (APIException, DjangoValidationError) as exc:
            results[index] = _error_result(exc, raw)
    flush()
    return results


class EventView(APIView):
    """Report one thing a member did (API key). Idempotent per event id."""

    api_key_memoised = True  # the engine checks the key under its locks (ApiKeyAuthentication)
    permission_classes = [IsIntegration]

    @extend_schema(
        request=EventPayload,
        responses={201: EventAnswerSerializer, 200: EventAnswerSerializer, **ERRORS},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, ApiKey)
        event = event_from(request.data, _context())
        if isinstance(event, LedgerEvent):
            outcome = _ledger_event(request.auth, event)
        else:
            [result] = events_apply(api_key=request.auth, events=[event])
            if isinstance(result, LedgerError):
                raise _api_error(result)
            assert isinstance(result, Outcome)
            outcome = result
        return _event_response(outcome)


def _event_response(outcome: Outcome) -> Response:
    return Response(
        outcome.answer,
        status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
    )


class EventBatchView(APIView):
    """Up to 500 events; one result per event, in order. Each is applied whole or not at all."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=BatchPayload,
        responses={200: BatchAnswerSerializer, 400: ERRORS[400]},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, ApiKey)
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list) or not 0 < len(events) <= MAX_BATCH:
            raise ApiError(
                400,
                "invalid",
                "Some fields are invalid.",
                {"events": [_("Give a list of 1 to %(max)d events.") % {"max": MAX_BATCH}]},
            )
        return Response({"results": _batch_results(request.auth, events)})


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
        member_id = _member_or_404(number, api_key=request.auth)
        data = payload.validated_data
        event = LedgerEvent(
            type="redemption",
            key=data["id"],
            member_number=number,
            occurred_at=timezone.now(),
            data={"points": data["points"], "reason": data["reason"]},
            digest=body_hash({"member": number, **request.data}),
        )
        try:
            outcome = event_ingest(api_key=request.auth, event=event, member_id=member_id)
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
        kind = self.request.query_params.get("kind")
        if kind is not None and kind not in PointEntry.Kind.values:
            raise ValidationError({"kind": [_("One of %s.") % ", ".join(PointEntry.Kind.values)]})
        return point_history(self.member_id(), kind).select_related("order")


@extend_schema(tags=["points"], parameters=[KIND_FILTER])
class MemberPointsView(_HistoryView):
    """A member's point entries, newest first (API key)."""

    permission_classes = [IsIntegration]

    def member_id(self) -> int:
        assert isinstance(self.request.auth, ApiKey)
        return _member_or_404(self.kwargs["number"], api_key=self.request.auth)


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
