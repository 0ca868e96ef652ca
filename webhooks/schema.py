"""What the webhooks POST, documented in the OpenAPI schema as its `webhooks` (OpenAPI 3.1):
one pydantic model per event type, the member program's (EVENT_TYPES, for an integration's
endpoints) and the partner program's (PARTNER_EVENT_TYPES, for a partner company's own
endpoints) alike (the Standard Webhooks envelope `{"type", "timestamp", "data"}` around the
data that type carries), a realistic example of each, the three headers and the payload
version.

This module is the one home of the payload shapes. The tests emit a real event of every
type through the services that emit it in production, build the body the sender builds
(webhooks.delivery.payload) and validate it against these models (extra or missing keys
fail) and against the rendered schema, so the documentation cannot drift; and a type added
to EVENT_TYPES or PARTNER_EVENT_TYPES without a payload here fails a test.

The data is the event's data and its subject's ids; where both have a name the data's value
is sent, which holds the subject's id or more (a coupon's `template` is `{"id", "name"}`, a
points event's `order` and `reverses` and an expiring lot's `lot` are the same value in
both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, OpenApiWebhook, extend_schema
from pydantic import BaseModel, ConfigDict, Field, create_model

# The outbox event's `version` of every payload documented here.
PAYLOAD_VERSION = 1

MEMBER = Field(description="The member's public number.")
ISO_DATE = "An ISO 8601 date (YYYY-MM-DD)."


class _Shape(BaseModel):
    """Every key is always present (a missing value is null), and no other key is."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the data of each type --------------------------------------------------------------


class MemberCreatedData(_Shape):
    number: str = Field(description="The new member's public number.")
    language: str = Field(description="The member's language (a language code).")
    member: str = MEMBER


class MemberUpdatedData(_Shape):
    changed: list[str] = Field(
        description="The names of the profile fields that changed (sorted). Personal data's "
        "new values are not sent: read the member."
    )
    language: str = Field(description="The member's language now.")
    marketing_consent: bool = Field(description="Whether the member accepts marketing now.")
    by_staff: bool = Field(description="Whether staff made the change.")
    member: str = MEMBER


class PointsData(_Shape):
    points: int = Field(description="The entry's points: positive earned, negative reversed.")
    kind: str = Field(description="The ledger entry's kind: earn, reverse, adjust, ...")
    reason: str = Field(description="Why, in words (may be empty).")
    occurred_at: datetime = Field(description="When the earning or reversal happened.")
    order: str | None = Field(description="The shop's order number, if any.")
    reverses: int | None = Field(description="The id of the entry this one reverses, if any.")
    rule: int | None = Field(description="The earning rule's id, if any.")
    campaign: int | None = Field(description="The campaign's id, if any.")
    member: str = MEMBER
    entry: int = Field(description="The ledger entry's id.")


class PointsExpiringData(_Shape):
    lot: int = Field(description="The id of the lot of points that expires.")
    points: int = Field(description="The lot's points left, which expire.")
    expires_on: date = Field(description=f"The last day they can be used. {ISO_DATE}")
    member: str = MEMBER


class TierFrom(_Shape):
    code: str
    name: str


class TierTo(_Shape):
    id: int
    code: str
    name: str


class TierChangedData(_Shape):
    period: date = Field(description=f"The evaluation period (its first day). {ISO_DATE}")
    kind: str = Field(description="evaluation (monthly), instant (upgrade) or floor (staff).")
    direction: str = Field(description="up or down.")
    effective_on: date = Field(description=f"When the new tier applies. {ISO_DATE}")
    from_: TierFrom = Field(alias="from", description="The tier before.")
    to: TierTo = Field(description="The tier now.")
    member: str = MEMBER
    tier_change: int = Field(description="The tier change's id.")


class CouponTemplate(_Shape):
    id: int = Field(description="The coupon template's id.")
    name: str = Field(description="The coupon template's name.")


class CouponData(_Shape):
    code: str = Field(description="The coupon's code, as the member types it.")
    occasion: str = Field(
        description="Why it was issued: birthday, anniversary, level_up, daily_quota, manual, "
        "points_exchange."
    )
    template: CouponTemplate = Field(description="The coupon template it was issued from.")
    valid_from: datetime
    valid_until: datetime
    status: str = Field(description="The coupon's status now: available, redeemed, expired, void.")
    announced: bool = Field(description="Whether the member is told by a notice and an email.")
    member: str = MEMBER
    coupon: int = Field(description="The coupon's id.")


class CouponRedeemedData(CouponData):
    order_number: str = Field(description="The order it was redeemed for.")
    order_amount: str = Field(description="The order's amount (a decimal, as text).")
    discount: str = Field(description="The discount given (a decimal, as text).")
    redeemed_at: datetime


class CouponReleasedData(CouponData):
    order_number: str = Field(description="The cancelled order it is released from.")


PROVIDER = Field(description="The partner company's id.")
APPLICATION = Field(description="The application's id.")


class PartnerApplicationChangedData(_Shape):
    stage: str = Field(
        description="What the application is for: registration, operator, international or "
        "details_change."
    )
    from_: str | None = Field(
        alias="from", description="Its status before (null: it was just submitted)."
    )
    to: str = Field(
        description="Its status now: submitted, changes_requested, awaiting_presentation, "
        "presentation_review, unqualified, rejected or approved."
    )
    provider: int = PROVIDER
    application: int = APPLICATION


class PartnerCertificationChangedData(_Shape):
    stage: str = Field(description="The certification: registration, operator or international.")
    from_: str | None = Field(
        alias="from",
        description="Its status before (null: it was just granted, by the application's approval).",
    )
    to: str = Field(
        description="Its status now: deposit_due (an operator certification waits for the "
        "deposit) or active."
    )
    provider: int = PROVIDER
    application: int = Field(description="The id of the application that granted it.")
    certification: int = Field(description="The certification's id.")


class PartnerStandingChangedData(_Shape):
    from_: str = Field(alias="from", description="Its standing before: good or suspended.")
    to: str = Field(description="Its standing now: good, suspended or revoked.")
    reason: str = Field(
        description="Why, in words, as the company is told it (may be empty for a reinstatement)."
    )
    suspended_until: datetime | None = Field(
        description="When a suspension ends by itself (null: it lasts until staff reinstate "
        "the company, or the company is not suspended)."
    )
    provider: int = PROVIDER


# --- the envelope, the examples, the documentation --------------------------------------


@dataclass(frozen=True)
class Payload:
    """One event type's documented body: its model and an example; `partner`: a partner
    program's type, sent to the endpoints of the company it concerns."""

    event_type: str
    summary: str
    model: type[BaseModel]
    example: dict[str, Any]
    partner: bool = False


def _payload(
    event_type: str,
    summary: str,
    data: type[BaseModel],
    timestamp: str,
    example: dict[str, Any],
    *,
    partner: bool = False,
) -> Payload:
    name = "".join(part.capitalize() for part in event_type.split(".")) + "Webhook"
    model = create_model(
        name,
        __base__=_Shape,
        __doc__=f"The body of a `{event_type}` webhook: {summary}",
        type=(Literal[event_type], Field(description="The event type.")),  # type: ignore[arg-type]
        timestamp=(datetime, Field(description="When it happened (ISO 8601).")),
        data=(data, ...),
    )
    body = {"type": event_type, "timestamp": timestamp, "data": example}
    return Payload(event_type, summary, model, body, partner)


_COUPON = {
    "code": "BDAY-7KQ2-M4XW",
    "occasion": "birthday",
    "template": {"id": 3, "name": "Birthday treat"},
    "valid_from": "2026-03-14T00:00:00+08:00",
    "valid_until": "2026-04-13T23:59:59+08:00",
    "status": "available",
    "announced": True,
    "member": "4820013377",
    "coupon": 90211,
}
_POINTS = {
    "points": 240,
    "kind": "earn",
    "reason": "Order SO-2026-118734",
    "occurred_at": "2026-03-14T09:41:07.512+00:00",
    "order": "SO-2026-118734",
    "reverses": None,
    "rule": 12,
    "campaign": None,
    "member": "4820013377",
    "entry": 5531902,
}

PAYLOADS: dict[str, Payload] = {
    p.event_type: p
    for p in [
        _payload(
            "member.created",
            "a member registered.",
            MemberCreatedData,
            "2026-03-14T09:12:44.086+00:00",
            {"number": "4820013377", "language": "zh-hans", "member": "4820013377"},
        ),
        _payload(
            "member.updated",
            "a member's profile changed.",
            MemberUpdatedData,
            "2026-03-14T09:20:03.731+00:00",
            {
                "changed": ["marketing_consent", "name"],
                "language": "zh-hans",
                "marketing_consent": True,
                "by_staff": False,
                "member": "4820013377",
            },
        ),
        _payload(
            "points.earned",
            "points were earned (an order, a contribution, a posting by staff).",
            PointsData,
            "2026-03-14T09:41:07.553+00:00",
            _POINTS,
        ),
        _payload(
            "points.reversed",
            "earned points were taken back (an order returned or cancelled).",
            PointsData,
            "2026-03-20T16:02:51.207+00:00",
            {
                **_POINTS,
                "points": -240,
                "kind": "reverse",
                "reason": "Order SO-2026-118734 returned",
                "occurred_at": "2026-03-20T16:02:51.199+00:00",
                "reverses": 5531902,
                "entry": 5617740,
            },
        ),
        _payload(
            "points.expiring",
            "a lot of points expires within 30 days (told once per lot).",
            PointsExpiringData,
            "2026-03-14T06:00:12.004+00:00",
            {"lot": 771203, "points": 180, "expires_on": "2026-04-01", "member": "4820013377"},
        ),
        _payload(
            "tier.changed",
            "a member moved to another tier.",
            TierChangedData,
            "2026-04-01T00:07:31.660+00:00",
            {
                "period": "2026-04-01",
                "kind": "evaluation",
                "direction": "up",
                "effective_on": "2026-04-01",
                "from": {"code": "silver", "name": "Silver"},
                "to": {"id": 3, "code": "gold", "name": "Gold"},
                "member": "4820013377",
                "tier_change": 40417,
            },
        ),
        _payload(
            "coupon.issued",
            "a coupon was issued to a member.",
            CouponData,
            "2026-03-14T00:10:02.318+00:00",
            _COUPON,
        ),
        _payload(
            "coupon.redeemed",
            "a coupon was used for an order.",
            CouponRedeemedData,
            "2026-03-15T11:26:40.902+00:00",
            {
                **_COUPON,
                "status": "redeemed",
                "order_number": "SO-2026-119020",
                "order_amount": "389.00",
                "discount": "30.00",
                "redeemed_at": "2026-03-15T11:26:40.871+00:00",
            },
        ),
        _payload(
            "coupon.released",
            "a redeemed coupon went back to its member (the order was cancelled).",
            CouponReleasedData,
            "2026-03-16T08:03:17.445+00:00",
            {**_COUPON, "order_number": "SO-2026-119020"},
        ),
        _payload(
            "coupon.expired",
            "an unused coupon passed its end.",
            CouponData,
            "2026-04-14T00:10:05.120+00:00",
            {**_COUPON, "status": "expired"},
        ),
        _payload(
            "coupon.voided",
            "staff cancelled an unused coupon.",
            CouponData,
            "2026-03-18T14:30:00.000+00:00",
            {**_COUPON, "status": "void"},
        ),
        _payload(
            "partner.application.changed",
            "a partner company's application moved to another status (submitted, audited, "
            "decided).",
            PartnerApplicationChangedData,
            "2026-03-17T02:45:19.274+00:00",
            {
                "stage": "operator",
                "from": "submitted",
                "to": "awaiting_presentation",
                "provider": 318,
                "application": 1204,
            },
            partner=True,
        ),
        _payload(
            "partner.certification.changed",
            "a partner company was granted a certification, or its certification became "
            "active (the deposit was paid).",
            PartnerCertificationChangedData,
            "2026-03-24T07:12:58.031+00:00",
            {
                "stage": "operator",
                "from": "deposit_due",
                "to": "active",
                "provider": 318,
                "application": 1204,
                "certification": 517,
            },
            partner=True,
        ),
        _payload(
            "partner.standing.changed",
            "a partner company was suspended, reinstated or revoked.",
            PartnerStandingChangedData,
            "2026-04-02T09:30:44.610+00:00",
            {
                "from": "good",
                "to": "suspended",
                "reason": "Customer complaints about late deliveries, under review.",
                "suspended_until": "2026-04-16T16:00:00Z",
                "provider": 318,
            },
            partner=True,
        ),
    ]
}

_FORMAT = (
    "as JSON, in the Standard Webhooks format (https://www.standardwebhooks.com/). Payload "
    f"version {PAYLOAD_VERSION}. Verify the `webhook-signature` before trusting the body, and "
    "deduplicate on `webhook-id`: delivery is at least once (a retry or a replay sends the "
    "same id)."
)
DESCRIPTION = (
    f"POSTed to every active endpoint subscribed to the type, {_FORMAT} A member's events "
    "arrive in the order they happened; different members' events have no order between them."
)
PARTNER_DESCRIPTION = (
    "POSTed to the active endpoints of the partner company it concerns (`provider`) that are "
    f"subscribed to the type, {_FORMAT} Partner events have no order between them: a later "
    "change may arrive first (`from` and `to` tell)."
)

# The headers of every webhook (a post-processing hook adds them: drf-spectacular's webhooks
# take no parameters).
HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event's id (a UUID), the same on every retry and replay: "
        "deduplicate on it.",
        "schema": {"type": "string", "format": "uuid"},
        "example": "019cf0d4-6a3b-7f21-b6d3-3c0e5a9f12de",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When this try was sent (Unix seconds). Refuse one far from your clock.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "1773481267",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": '`v1,<base64 of HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.'
        "<body>\">`, keyed with the base64-decoded part of the endpoint's secret after "
        "`whsec_`; two, separated by a space, for 24 hours after a rotation.",
        "schema": {"type": "string"},
        "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    },
]


def _webhook(payload: Payload) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=payload.event_type,
        decorator=extend_schema(
            summary=f"{payload.event_type}: {payload.summary}",
            description=PARTNER_DESCRIPTION if payload.partner else DESCRIPTION,
            request=payload.model,
            # not request_only: drf-spectacular reads a webhook's body as a response's
            examples=[OpenApiExample(payload.event_type, value=payload.example)],
            responses={
                200: OpenApiResponse(
                    description="Delivered: any 2xx answer (the body is not read beyond its "
                    "first 1,000 characters, kept for the attempt's record)."
                ),
                410: OpenApiResponse(
                    description="Gone: the endpoint is disabled (its messages wait). Any "
                    "other answer, or none in time (10 s by default), is retried: after 5 s, 5 min, 30 min, "
                    "2 h, 5 h, 10 h and 10 h."
                ),
            },
            tags=["webhooks"],
            extensions={"x-payload-version": PAYLOAD_VERSION},
        ),
    )


# SPECTACULAR_SETTINGS["WEBHOOKS"] imports this list.
WEBHOOKS = [_webhook(p) for p in PAYLOADS.values()]


def webhook_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A post-processing hook of the schema: every webhook's three headers."""
    for operations in result.get("webhooks", {}).values():
        for operation in operations.values():
            operation["parameters"] = HEADERS
    return result
