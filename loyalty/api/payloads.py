"""The one validator of the events the shop reports (`POST /api/v1/events/` and each event of
`/events/batch/`): pydantic models, which also give the OpenAPI schema (drf-spectacular's
pydantic support), so the documented shape and the accepted shape are one definition.

`event_from(raw, context)` answers the domain event (loyalty.earning) or raises DRF's
ValidationError with the fields at fault, in the error envelope every API error uses, with
messages in the request's language. Strings are trimmed (a member number " 123 " is "123"),
categories normalised once here (core.text), a naive `occurred_at` is read as UTC. What the
program's settings decide (its currency, the back-dating limit) is the engine's to check,
under the same snapshot as the rest (loyalty.earning.planner.event_admissible).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from rest_framework import exceptions

from core import text
from core.api.fields import AMOUNT_ABOVE_ZERO, AMOUNT_AS_TEXT, TEXT
from core.api.parsers import UNSTORABLE, unstorable
from loyalty.earning import (
    ContributionPosted,
    LedgerEvent,
    OrderReceived,
)

MAX_BATCH = 500
# Shop clocks drift: an event up to this far "in the future" is accepted.
CLOCK_SKEW = timedelta(minutes=1)


@dataclass(frozen=True)
class Context:
    """What validation needs: now (an event may not be in the future)."""

    now: datetime


def _storable(value: str) -> str:
    """Text PostgreSQL can store: no NUL character, no lone surrogate (a `\ud800` escape)."""
    if unstorable(value):
        raise PydanticCustomError("invalid_text", str(UNSTORABLE))
    return value


def _text(max_length: int) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_storable),
        Field(json_schema_extra={"pattern": TEXT}),
    ]


def echo(value: Any) -> str:
    """A client's value as an error message may quote it: always encodable."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _context(info: ValidationInfo) -> Context:
    context = info.context
    assert isinstance(context, Context), "validate with context=Context(...)"
    return context


def _moment(value: datetime, info: ValidationInfo) -> datetime:
    """Aware (naive is UTC) and not in the future."""
    context = _context(info)
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("date_out_of_range", _("This moment is out of range.")) from None
    if value > context.now + CLOCK_SKEW:
        raise PydanticCustomError("future", _("This moment is in the future."))
    return value


def _iso_text(value: Any) -> Any:
    """A moment is an ISO 8601 string, as the schema says (not a Unix time)."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "not a string")
    return value


Moment = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_moment)]


def _amount_text(value: Any) -> Any:
    """An amount is a string ("12.50"): a JSON number is a binary float, not every amount."""
    if not isinstance(value, str):
        raise PydanticCustomError("amount_text", str(AMOUNT_AS_TEXT))
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    Field(max_digits=12, decimal_places=2, ge=Decimal("0.01")),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_ABOVE_ZERO}),
]
Category = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_storable),
    Field(json_schema_extra={"pattern": TEXT}),
]


class _Part(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class OrderReceivedPart(_Part):
    number: _text(64)  # type: ignore[valid-type]
    amount: Amount
    currency: Annotated[
        str, StringConstraints(min_length=3, max_length=3, to_upper=True), AfterValidator(_storable)
    ] = Field(description="The program's currency (case does not matter).")
    categories: list[Category] = Field(
        default_factory=list,
        max_length=50,
        description="Compared case- and width-insensitively (Unicode NFKC, case-folded).",
    )


class OrderRefPart(_Part):
    number: _text(64)  # type: ignore[valid-type]


class ReviewPart(_Part):
    id: _text(100)  # type: ignore[valid-type]
    product: _text(100)  # type: ignore[valid-type]


class PostPart(_Part):
    id: _text(100)  # type: ignore[valid-type]


class _Event(_Part):
    id: _text(100) = Field(description="Your id of the event: idempotency per API key.")  # type: ignore[valid-type]
    member: _text(20) = Field(description="The member number.")  # type: ignore[valid-type]
    occurred_at: Moment = Field(description="ISO 8601; without an offset it is UTC.")


class OrderReceivedEvent(_Event):
    """An order the shopper confirmed as received: shopping points, bonuses, campaigns."""

    type: Literal["order.received"]
    order: OrderReceivedPart


class OrderReturnedEvent(_Event):
    """An order returned, in whole or in part: its points are reversed in proportion."""

    type: Literal["order.returned"]
    order: OrderRefPart
    returned_amount: Amount | None = Field(None, description="Default: what is left of it.")


class OrderFraudEvent(_Event):
    """An order flagged as fraudulent: all of its points are reversed."""

    type: Literal["order.fraud"]
    order: OrderRefPart


class ReviewPostedEvent(_Event):
    """A product review: fan points, once per review id."""

    type: Literal["review.posted"]
    review: ReviewPart


class ClubPostedEvent(_Event):
    """A post in the member club: fan points, once per post id."""

    type: Literal["club.posted"]
    post: PostPart


EVENT_MODELS = (
    OrderReceivedEvent,
    OrderReturnedEvent,
    OrderFraudEvent,
    ReviewPostedEvent,
    ClubPostedEvent,
)
EVENT_TYPES = tuple(m.model_fields["type"].annotation.__args__[0] for m in EVENT_MODELS)  # type: ignore[union-attr]


class EventPayload(RootModel[Any]):
    """One event the shop reports; its `type` says which part it carries."""

    root: Annotated[
        OrderReceivedEvent
        | OrderReturnedEvent
        | OrderFraudEvent
        | ReviewPostedEvent
        | ClubPostedEvent,
        Field(discriminator="type"),
    ]


class BatchPayload(BaseModel):
    """Up to 500 events, each applied whole or not at all; one result per event, in order."""

    events: list[EventPayload] = Field(min_length=1, max_length=MAX_BATCH)


class _Envelope(_Part):
    """The parts every event has: validated alone when the type is missing or unknown, so
    that every missing field is named at once."""

    id: _text(100)  # type: ignore[valid-type]
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    member: _text(20)  # type: ignore[valid-type]
    occurred_at: Moment


_ONE = TypeAdapter(EventPayload)
_ENVELOPE = TypeAdapter(_Envelope)


def body_hash(body: Any) -> str:
    """A stable hash of a JSON body (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def event_from(raw: Any, context: Context) -> OrderReceived | ContributionPosted | LedgerEvent:
    """The domain event of one raw event, or DRF's ValidationError naming the fields."""
    if not isinstance(raw, dict):
        raise exceptions.ValidationError(
            {
                "non_field_errors": [
                    _("Invalid data. Expected a dictionary, but got %(type)s.")
                    % {"type": type(raw).__name__}
                ]
            }
        )
    try:
        if raw.get("type") not in EVENT_TYPES:
            _ENVELOPE.validate_python(raw, context=context)
            raise AssertionError("an envelope without a known type cannot be valid")
        event = _ONE.validate_python(raw, context=context).root
    except ValidationError as exc:
        raise exceptions.ValidationError(fields(exc)) from None
    digest = body_hash(raw)
    if isinstance(event, OrderReceivedEvent):
        order = event.order
        return OrderReceived(
            key=event.id,
            member_number=event.member,
            occurred_at=event.occurred_at,
            number=order.number,
            amount=order.amount,
            currency=order.currency,
            categories=tuple(text.categories(order.categories)),
            digest=digest,
        )
    if isinstance(event, ReviewPostedEvent):
        return ContributionPosted(
            type=event.type,
            key=event.id,
            member_number=event.member,
            occurred_at=event.occurred_at,
            ref=event.review.id,
            product=event.review.product,
            digest=digest,
        )
    if isinstance(event, ClubPostedEvent):
        return ContributionPosted(
            type=event.type,
            key=event.id,
            member_number=event.member,
            occurred_at=event.occurred_at,
            ref=event.post.id,
            product="",
            digest=digest,
        )
    data: dict[str, Any] = {"order": {"number": event.order.number}}
    if isinstance(event, OrderReturnedEvent) and event.returned_amount is not None:
        data["returned_amount"] = event.returned_amount
    return LedgerEvent(
        type=event.type,
        key=event.id,
        member_number=event.member,
        occurred_at=event.occurred_at,
        data=data,
        digest=digest,
    )


# --- pydantic's errors in the API's envelope and language -----------------------------------
def _message(error: Any) -> str:  # noqa: C901 (a table of error types)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("future", "date_out_of_range", "invalid_text", "amount_text"):
        return str(error["msg"])
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short":
        return _("This field may not be blank.")
    if kind == "string_too_long":
        return _("Ensure this field has no more than %(max_length)s characters.") % ctx
    if kind == "string_unicode":
        return str(UNSTORABLE)
    if kind in ("string_type", "str_type"):
        return _("Not a valid string.")
    if kind in ("literal_error", "union_tag_invalid"):
        return _('"%(input)s" is not a valid choice.') % {"input": echo(error.get("input", ""))}
    if kind == "union_tag_not_found":
        return _("This field is required.")
    if kind.startswith("datetime") or kind.startswith("date_"):
        return _(
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
        )
    if kind in ("decimal_parsing", "decimal_type", "finite_number"):
        return _("A valid number is required.")
    if kind == "decimal_max_places":
        return _("Ensure that there are no more than %(decimal_places)s decimal places.") % ctx
    if kind in ("decimal_max_digits", "decimal_whole_digits"):
        return _("Ensure that there are no more than %(max_digits)s digits in total.") % ctx
    if kind == "greater_than_equal":
        return _("Ensure this value is greater than or equal to %(ge)s.") % ctx
    if kind in ("list_type", "tuple_type"):
        return _('Expected a list of items but got type "%(type)s".') % {
            "type": type(error.get("input")).__name__
        }
    if kind == "too_long":
        return _("Ensure this field has no more than %(max_length)s elements.") % ctx
    if kind == "too_short":
        return _("Ensure this field has at least %(min_length)s elements.") % ctx
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("Invalid data. Expected a dictionary, but got %(type)s.") % {
            "type": type(error.get("input")).__name__
        }
    return str(error["msg"])


def fields(exc: ValidationError) -> dict[str, Any]:
    """{"order": {"amount": ["A valid number is required."]}}: each error under its path (the
    union's tag left out), list items under their index, as DRF's serializers answer."""
    found: dict[str, Any] = {}
    for error in exc.errors():
        path = [str(p) for p in error["loc"] if p not in EVENT_TYPES]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = [*path, "type"]
        if not path:
            path = ["non_field_errors"]
        node = found
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # an error on the part itself was found first
                break
            node = child
        else:
            node.setdefault(path[-1], [])
            if isinstance(node[path[-1]], list):
                node[path[-1]].append(_message(error))
    return found
