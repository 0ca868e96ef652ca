from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

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

from loyalty.batch import Received, orders_receive, receive_one
from loyalty.earning import Outcome, body_hash, event_ingest
from loyalty.models import PointEntry, Program, program_pinned
from loyalty.receive_sql import ReceivedSpec, order_receive_sql
from loyalty.selectors import point_history, tier_ladder
from loyalty.services import LedgerError
from members.api.errors import ApiError, error_body, exception_handler
from members.api.permissions import IsIntegration, IsMember
from members.models import ApiKey, Member

from .serializers import (
    CLOCK_SKEW,
    MAX_BATCH,
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
    409: OpenApiResponse(
        description="idempotency_conflict, order_already_received, review_already_received,"
        " post_already_received"
    ),
    422: OpenApiResponse(description="order_not_found, insufficient_points"),
}


def _member_or_404(number: Any, known: dict[str, int] | None = None) -> tuple[int, str]:
    number = str(number)
    if known is not None and number in known:
        found: int | None = known[number]
    else:  # not looked up beforehand (e.g. spelled otherwise before validation)
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


def _receive(api_key: ApiKey, event: Received) -> Outcome:
    """Apply one well-formed `order.received` event (read by `_fast_received`)."""
    outcome = receive_one(api_key, event)
    if isinstance(outcome, LedgerError):
        raise ApiError(outcome.status, outcome.code, str(outcome)) from outcome
    return outcome


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


AMOUNT = re.compile(r"\d{1,10}(\.\d{1,2})?")
RECEIVED_KEYS = frozenset({"id", "type", "member", "occurred_at", "order"})
ORDER_KEYS = frozenset({"number", "amount", "currency", "categories"})
CENT = Decimal("0.01")


def _plain_text(value: Any, limit: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= limit and value == value.strip()


def _fast_spec(raw: Any, now: datetime) -> ReceivedSpec | None:
    """A plain-Python reading of the common, well-formed `order.received` event, accepting
    exactly what `EventSerializer` accepts with the same values. None: anything else (an
    error, another type, an unusual spelling); the serializer then judges the event."""
    if not isinstance(raw, dict) or raw.get("type") != "order.received":
        return None
    if not RECEIVED_KEYS.issuperset(raw):
        return None
    key, number, when, order = (
        raw.get("id"),
        raw.get("member"),
        raw.get("occurred_at"),
        raw.get("order"),
    )
    if not (_plain_text(key, 100) and _plain_text(number, 20) and isinstance(when, str)):
        return None
    if not isinstance(order, dict) or not ORDER_KEYS.issuperset(order):
        return None
    try:
        occurred_at = datetime.fromisoformat(when)
    except ValueError:
        return None
    if occurred_at.tzinfo is None:
        return None
    occurred_at = occurred_at.astimezone(UTC)
    program = Program.load()
    if occurred_at > now + CLOCK_SKEW or occurred_at < now - timedelta(
        days=program.backdating_days
    ):
        return None
    order_number, amount, currency = order.get("number"), order.get("amount"), order.get("currency")
    categories = order.get("categories", [])
    if not (_plain_text(order_number, 64) and isinstance(amount, str) and AMOUNT.fullmatch(amount)):
        return None
    if currency != program.currency or not isinstance(categories, list) or len(categories) > 50:
        return None
    if not all(_plain_text(c, 50) for c in categories):
        return None
    value = Decimal(amount).quantize(CENT)
    if value < CENT:
        return None
    return ReceivedSpec(
        key=key,
        member_number=number,
        occurred_at=occurred_at,
        number=order_number,
        amount=value,
        currency=currency,
        categories=sorted({c.strip().lower() for c in categories if c}),
        digest=body_hash(raw),
    )


def _fast_received(raw: Any, known: dict[str, int], now: datetime) -> Received | None:
    """`_fast_spec` of an event whose member is in `known` (numbers to ids)."""
    spec = _fast_spec(raw, now)
    if spec is None or spec.member_number not in known:
        return None
    return Received(
        key=spec.key,
        member_id=known[spec.member_number],
        member_number=spec.member_number,
        occurred_at=spec.occurred_at,
        number=spec.number,
        amount=spec.amount,
        currency=spec.currency,
        categories=spec.categories,
        digest=spec.digest,
    )


def _batch_results(api_key: ApiKey, events: list[Any], known: dict[str, int]) -> list[Any]:
    """One result per event, in order. Runs of well-formed `order.received` events with
    distinct ids go through `orders_receive` together; every other event alone."""
    results: list[Any] = [None] * len(events)
    now = timezone.now()
    run: list[tuple[int, Received]] = []
    run_keys: set[str] = set()

    def flush() -> None:
        outcomes = orders_receive(api_key=api_key, events=[r for _i, r in run])
        for (index, received), outcome in zip(run, outcomes, strict=True):
            results[index] = _outcome_result(outcome, received.key)
        run.clear()
        run_keys.clear()

    for index, raw in enumerate(events):
        received = _fast_received(raw, known, now)
        if received is not None:
            if received.key in run_keys:
                flush()
            run.append((index, received))
            run_keys.add(received.key)
            continue
        if run:
            flush()
        results[index] = _as_result(api_key, raw, known)
    if run:
        flush()
    return results


def _outcome_result(outcome: Outcome | LedgerError, key: str) -> dict[str, Any]:
    if isinstance(outcome, LedgerError):
        return {"status": outcome.status, **error_body(outcome.code, str(outcome)), "id": key}
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
        raw = request.data
        with program_pinned():
            # a well-formed order.received in one round trip
            spec = _fast_spec(raw, timezone.now())
            if spec is not None:
                try:
                    outcome, _member_id = order_receive_sql(api_key_id=request.auth.pk, event=spec)
                except LedgerError as exc:
                    raise ApiError(exc.status, exc.code, str(exc)) from exc
                return _event_response(outcome)
            number = raw.get("member") if isinstance(raw, dict) else None
            known: dict[str, int] = {}
            if isinstance(number, str):
                pk = (
                    Member.objects.filter(number=number, is_active=True)
                    .values_list("pk", flat=True)
                    .first()
                )
                known = {number: pk} if pk is not None else {}
            received = _fast_received(raw, known, timezone.now())
            if received is None:
                outcome = _ingest(request.auth, raw, known)
            else:
                outcome = _receive(request.auth, received)
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
        request=BatchSerializer,
        responses={200: BatchAnswerSerializer, 400: ERRORS[400]},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, ApiKey)
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not (isinstance(events, list) and 0 < len(events) <= MAX_BATCH):
            batch = BatchSerializer(data=request.data)  # answers the field errors
            batch.is_valid(raise_exception=True)
            events = batch.validated_data["events"]
        numbers = {str(e.get("member")) for e in events if isinstance(e, dict)}
        known = dict(
            Member.objects.filter(number__in=numbers, is_active=True).values_list("number", "pk")
        )
        with program_pinned():
            results = _batch_results(request.auth, events, known)
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
