"""The webhooks' payloads as the OpenAPI schema documents them (webhooks/schema.py): every
event type has one, with its example and headers; and the body the sender really builds for
a real event of each type, emitted by the services that emit it in production, has exactly
the documented keys and types, so the documentation cannot drift from the events.

The member program's types (EVENT_TYPES) and the partner program's (PARTNER_EVENT_TYPES)
alike: a new type in either list needs its payload in webhooks/schema.py and one emission in
`_every_type_emitted`, or these tests fail."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from benefits.coupons.models import Occasion
from benefits.coupons.services import coupon_redeem, coupon_release, coupons_expire, coupons_void
from core import outbox
from core.clock import program_today
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger.models import PointLot
from loyalty.ledger.services import points_award, points_expiring_announce, points_reverse
from loyalty.program.models import Program, Tier
from loyalty.program.presets import tiers as tier_preset
from members.services import api_key_create, member_create, member_update_profile
from partners import services as partner_services
from tests.benefits.coupons.factories import CouponFactory, CouponTemplateFactory
from tests.partners.conftest import (  # noqa: F401 (documents_dir: an autouse fixture)
    documents_dir,
    make_auditor,
    registered,
)
from webhooks.delivery import payload
from webhooks.models import EVENT_TYPES, PARTNER_EVENT_TYPES
from webhooks.schema import (
    DESCRIPTION,
    HEADERS,
    PARTNER_DESCRIPTION,
    PAYLOAD_VERSION,
    PAYLOADS,
)

# Every type a webhook is sent for: the member program's and the partner program's.
ALL_TYPES = [*EVENT_TYPES, *PARTNER_EVENT_TYPES]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _validator(schema: dict[str, Any], event_type: str) -> Draft202012Validator:
    """A JSON Schema validator of the body the schema documents for `event_type`."""
    body = schema["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
    return Draft202012Validator({**body["schema"], "components": schema["components"]})


def _documented_keys(
    node: dict[str, Any], components: dict[str, Any], prefix: str = ""
) -> set[str]:
    """Every key the schema documents for a body, nested ones as `a.b`; each one required."""
    if "$ref" in node:
        node = components["schemas"][node["$ref"].rsplit("/", 1)[1]]
    properties = node.get("properties", {})
    assert sorted(node.get("required", [])) == sorted(properties), f"{prefix}: optional keys"
    return {f"{prefix}{k}" for k in properties} | {
        key
        for k, sub in properties.items()
        for key in _documented_keys(sub, components, f"{prefix}{k}.")
    }


def _documented(schema: dict[str, Any], event_type: str) -> set[str]:
    body = schema["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
    return _documented_keys(body["schema"], schema["components"])


def _keys(value: Any, prefix: str = "") -> set[str]:
    """Every key of a JSON document, nested ones as `a.b`."""
    if not isinstance(value, dict):
        return set()
    return {f"{prefix}{k}" for k in value} | {
        key for k, v in value.items() for key in _keys(v, f"{prefix}{k}.")
    }


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_every_event_type_is_documented_with_an_example_and_the_headers(
    schema: dict[str, Any], event_type: str
) -> None:
    assert event_type in PAYLOADS, f"{event_type}: no payload in webhooks/schema.py"
    operation = schema["webhooks"][event_type]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    (example,) = body["examples"].values()
    assert example["value"] == PAYLOADS[event_type].example
    assert [h["name"] for h in operation["parameters"]] == [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]
    assert operation["parameters"] == HEADERS
    assert operation["x-payload-version"] == PAYLOAD_VERSION
    partner = event_type in PARTNER_EVENT_TYPES
    assert operation["description"] == (PARTNER_DESCRIPTION if partner else DESCRIPTION)


def test_the_schema_documents_no_type_that_is_not_sent(schema: dict[str, Any]) -> None:
    assert sorted(schema["webhooks"]) == sorted(ALL_TYPES)
    assert sorted(PAYLOADS) == sorted(ALL_TYPES)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_each_example_is_valid_against_its_model_and_the_rendered_schema(
    schema: dict[str, Any], event_type: str
) -> None:
    documented = PAYLOADS[event_type]
    documented.model.model_validate(documented.example)
    _validator(schema, event_type).validate(documented.example)
    assert _keys(documented.example) == _documented(schema, event_type)


def test_a_body_with_a_key_more_or_less_is_refused(schema: dict[str, Any]) -> None:
    example = PAYLOADS["tier.changed"].example
    more = {**example, "data": {**example["data"], "surprise": 1}}
    less = {**example, "data": {k: v for k, v in example["data"].items() if k != "member"}}
    for body in (more, less):
        with pytest.raises(ValidationError):
            PAYLOADS["tier.changed"].model.model_validate(body)
        assert not _validator(schema, "tier.changed").is_valid(body)


def _drain() -> None:
    for _ in range(20):
        OutboxDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        if not outbox.dispatch():
            return
    raise AssertionError("the outbox did not drain")


def _every_type_emitted() -> None:
    """A member's story through the services that emit each type in production."""
    tier_preset.load("aliexpress")
    program = Program.load()
    program.instant_upgrade = True
    program.save()
    top = Tier.objects.order_by("-rank").first()
    assert top is not None
    CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome up")
    member = member_create(email="story@example.com", name="Story")
    member_update_profile(member=member, marketing_consent=True, name="Story Teller")
    entry = points_award(member_id=member.pk, points=top.min_points + 10, reason="Order")
    points_reverse(entry_id=entry.pk, points=5, reason="Returned in part")
    PointLot.objects.filter(entry=entry).update(expires_on=program_today() + timedelta(days=10))
    points_expiring_announce(today=program_today())
    _drain()  # the instant upgrade: tier.changed, then the level-up coupon: coupon.issued

    key = api_key_create(name="checkout")[0]
    used = CouponFactory(member=member)
    coupon_redeem(
        api_key=key,
        request_id="r1",
        code=used.code,
        member_number=member.number,
        order_number="A-1",
        order_amount=Decimal("80.00"),
    )
    coupon_release(api_key=key, request_id="r2", code=used.code, order_number="A-1")
    coupons_void(coupon_ids=[CouponFactory(member=member).pk])
    CouponFactory(
        member=member,
        valid_from=timezone.now() - timedelta(days=30),
        valid_until=timezone.now() - timedelta(minutes=1),
    )
    coupons_expire()

    # a partner company registered and approved (partner.application.changed twice, then
    # partner.certification.changed), suspended for a week, then reinstated
    auditor = make_auditor()
    company = registered(auditor)
    partner_services.provider_suspend(
        provider_id=company.pk,
        reason="Complaints under review",
        until=timezone.now() + timedelta(days=7),
        by_id=auditor.pk,
    )
    partner_services.provider_reinstate(provider_id=company.pk, note="", by_id=auditor.pk)
    _drain()


@pytest.mark.django_db
def test_the_body_of_a_real_event_of_every_type_has_exactly_the_documented_shape(
    schema: dict[str, Any], queued: list[Any]
) -> None:
    _every_type_emitted()
    events = list(OutboxEvent.objects.filter(type__in=ALL_TYPES).order_by("id"))
    assert sorted({e.type for e in events}) == sorted(ALL_TYPES), "a type was not emitted"
    for event in events:
        documented = PAYLOADS[event.type]
        body = payload(event)
        assert event.version == PAYLOAD_VERSION, event.type
        try:
            documented.model.model_validate_json(body)
        except ValidationError as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"{event.type}: {exc}") from exc
        sent = json.loads(body)
        _validator(schema, event.type).validate(sent)
        assert _keys(sent) == _documented(schema, event.type), event.type
        _assert_nothing_lost(event, sent["data"])


def _assert_nothing_lost(event: OutboxEvent, sent: dict[str, Any]) -> None:
    """The body carries all of the event's data, and each of its subject's ids: as is, or as
    the `id` of the data's object under the same name (a coupon's template)."""
    for name, value in event.data.items():
        assert sent[name] == value, (event.type, name)
    for name, value in event.subject.items():
        kept = sent[name]
        assert kept == value or (isinstance(kept, dict) and kept.get("id") == value), (
            event.type,
            name,
            kept,
            value,
        )
