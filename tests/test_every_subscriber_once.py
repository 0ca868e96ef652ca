"""Every subscriber in OUTBOX_SUBSCRIBERS, one by one, gets each event exactly once: across a
dispatcher that dies between handing the events over and marking them done, a subscriber
that fails three times and then succeeds, and two dispatchers running at once.

One member's story sets off every subscriber: the member is created (the ledger opens the
account), earns with instant upgrades on (the check promotes them), the promotion gives the
level-up coupon, the inbox notice and its email, the coupon its notice and email, and the
lot about to expire its notice and email; a webhook endpoint gets a message per event. Each
effect is counted at the end: exactly once.

An email subscriber "dies" as its first message is about to leave (the drills' crash point):
a process killed after the mail server accepted a message and before the commit sends it
again (emails are at least once, ADR 0018); every database effect is exactly once."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from benefits.coupons.models import Coupon, Occasion
from core import outbox
from core.clock import program_today
from core.models import OutboxDelivery, OutboxEvent
from loyalty.ledger.models import Account, PointLot
from loyalty.ledger.services import points_award, points_expiring_announce
from loyalty.program.models import Program, Tier
from loyalty.program.presets import tiers as tier_preset
from loyalty.tiers.models import TierChange
from members.services import api_key_create, member_create
from portal.models import Notice
from tests.benefits.coupons.factories import CouponTemplateFactory
from tests.concurrency import run_threads
from webhooks.models import WebhookMessage
from webhooks.services import endpoint_create

PATHS = sorted({path for paths in settings.OUTBOX_SUBSCRIBERS.values() for path in paths})
EMAILS = {path for path in PATHS if path.endswith("_email")}


@pytest.fixture(autouse=True)
def _senders_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks' senders are not queued to a broker: the messages are the effect."""
    monkeypatch.setattr("webhooks.services.task_queue", lambda *args: None)


class Died(BaseException):
    """A process killed here: nothing after it runs, its transaction never commits."""


def _story() -> Any:
    tier_preset.load("aliexpress")
    program = Program.load()
    program.instant_upgrade = True
    program.save()
    top = Tier.objects.order_by("-rank").first()
    CouponTemplateFactory(occasion=Occasion.LEVEL_UP, name="Welcome up")
    endpoint_create(owner=api_key_create(name="shop")[0], url="http://127.0.0.1:9/hook")
    member = member_create(email="story@example.com", name="Story")
    entry = points_award(member_id=member.pk, points=top.min_points + 10, reason="Order")
    PointLot.objects.filter(entry=entry).update(expires_on=program_today() + timedelta(days=10))
    points_expiring_announce(today=program_today())
    return member


def _effects(member: Any) -> dict[str, int]:
    return {
        "account": Account.objects.filter(member=member).count(),
        "promotion": TierChange.objects.filter(member=member, kind="instant").count(),
        "coupon": Coupon.objects.filter(member=member, occasion=Occasion.LEVEL_UP).count(),
        "tier notice": Notice.objects.filter(member=member, kind="tier_changed").count(),
        "coupon notice": Notice.objects.filter(member=member, kind="coupon_issued").count(),
        "expiry notice": Notice.objects.filter(member=member, kind="points_expiring").count(),
        "emails": len([m for m in mail.outbox if m.to == [member.email]]),
        "not emailed": Notice.objects.filter(member=member, emailed_at=None).count(),
        "webhook messages": WebhookMessage.objects.filter(member_id=member.pk).count(),
    }


ONCE = {
    "account": 1,
    "promotion": 1,
    "coupon": 1,
    "tier notice": 1,
    "coupon notice": 1,
    "expiry notice": 1,
    "emails": 3,
    "not emailed": 0,
    # the story's events: member.created, points.earned, tier.changed, coupon.issued,
    # points.expiring
    "webhook messages": 5,
}


def _drain(dispatcher: Callable[[], int] = outbox.dispatch) -> None:
    """Dispatch until nothing is left, making retries due at once."""
    for _ in range(40):
        OutboxDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        if not dispatcher() and not OutboxDelivery.objects.filter(status="pending").exists():
            return
    raise AssertionError("the outbox did not drain")


def _wrap(monkeypatch: pytest.MonkeyPatch, path: str, wrapper: Callable[..., Any]) -> None:
    module_name, name = path.rsplit(".", 1)
    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, name, wrapper(getattr(module, name)))


def _refuse(message: EmailMessage, *args: Any, **kwargs: Any) -> int:
    raise ConnectionError("421 the mail server is busy")


def _handled_by(path: str) -> list[OutboxDelivery]:
    return list(OutboxDelivery.objects.filter(subscriber=path))


def _routed(path: str) -> int:
    """How many of the story's events go to `path` (one delivery each)."""
    return OutboxEvent.objects.filter(
        type__in=[t for t, paths in settings.OUTBOX_SUBSCRIBERS.items() if path in paths]
    ).count()


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_a_dispatcher_dying_before_its_commit_leaves_the_events_for_the_next(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    died: list[str] = []

    def dying(real: Callable[..., Any]) -> Callable[..., Any]:
        def subscriber(events: list[Any]) -> Any:
            if not died and path in EMAILS:  # as the first message is about to leave
                send = EmailMessage.send

                def about_to_leave(message: EmailMessage, *a: Any, **k: Any) -> int:
                    monkeypatch.setattr(EmailMessage, "send", send)
                    died.append(path)
                    raise Died

                monkeypatch.setattr(EmailMessage, "send", about_to_leave)
                return real(events)
            result = real(events)
            if not died:  # handed over and done, not committed
                died.append(path)
                raise Died
            return result

        return subscriber

    _wrap(monkeypatch, path, dying)
    member = _story()
    with pytest.raises(Died):
        _drain()
    assert died == [path]
    assert all(d.status != "done" for d in _handled_by(path))  # its "done" rolled back too
    _drain()
    assert _effects(member) == ONCE
    assert {d.status for d in OutboxDelivery.objects.all()} == {"done"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_a_subscriber_failing_three_times_then_succeeding_does_it_once(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def flaky(real: Callable[..., Any]) -> Callable[..., Any]:
        def subscriber(events: list[Any]) -> Any:
            calls.append(len(events))
            if path in EMAILS:  # the mail server refuses the first three times
                if len(calls) <= 3:
                    with monkeypatch.context() as refusing:
                        refusing.setattr(EmailMessage, "send", _refuse)
                        return real(events)
                return real(events)
            result = real(events)  # its writes, then the failure: they must not survive
            if len(calls) <= 3:
                raise ConnectionError("the far side is down")
            return result

        return subscriber

    _wrap(monkeypatch, path, flaky)
    member = _story()
    _drain()
    assert _effects(member) == ONCE
    deliveries = _handled_by(path)
    assert len(deliveries) == _routed(path)
    assert {(d.status, d.last_error) for d in deliveries} == {("done", "")}
    # three failed calls, three failed attempts (the story's events reach the dispatcher
    # one at a time, each after its commit)
    assert sum(d.attempts - 1 for d in deliveries) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.outbox_wakes_celery
@pytest.mark.parametrize("path", PATHS)
def test_two_dispatchers_at_once_give_each_event_once(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "wake", lambda: None)  # the two threads below dispatch
    member = _story()
    run_threads(2, lambda _i: _drain())
    assert _effects(member) == ONCE
    assert [d.status for d in _handled_by(path)] == ["done"] * _routed(path)
