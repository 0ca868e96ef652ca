"""The API keeps the promises of its OpenAPI schema: Schemathesis generates requests from the
schema (every operation, then sequences of operations linked by their answers) and sends
them through the project's WSGI application, as a server would, to PostgreSQL with the demo
program loaded. Every answer must be documented (status, content type, body schema) and none
may be a server error.

Half the generated member numbers and reward ids are replaced by real ones so that the cases
reach the views' work, not only their 404s. Each request carries the credentials its
operation's `security` names (the API key, or a member's session with its CSRF token): the
schema is what tells the test how to authenticate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from benefits.catalogue.models import Reward
from config.wsgi import application
from members.models import Member
from members.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 25  # per operation: bounded, so the suite stays fast
CSRF = "c" * 32  # a CSRF secret, sent as the cookie and the header alike


class Demo:
    """The credentials and the real ids the generated cases may use."""

    def __init__(self) -> None:
        call_command("load_program", "aliexpress", verbosity=0)
        call_command("seed_demo", verbosity=0)
        self.member = Member.objects.filter(is_staff=False).order_by("id").first()
        assert self.member is not None, "the demo has members"
        self.key = api_key_create(name="contract")[1]
        client = Client()
        client.force_login(self.member)
        self.session = client.cookies["sessionid"].value
        self.reward_ids = list(Reward.objects.values_list("id", flat=True))

    def prepare(self, case: Any) -> None:
        """Real ids for half the cases, and moments the program accepts for the cases the
        schema allows (it cannot say "within the last 90 days" or "not in the future": those
        rules answer 400 beside the field, and tests/loyalty and tests/members test them; the currency is the program's), and
        no invented page cursor (tests/test_bad_input.py sends those)."""
        path = case.path_parameters or {}
        if "number" in path and len(str(path["number"])) % 2 == 0:
            path["number"] = self.member.number
        reward = path.get("reward_id")
        if isinstance(reward, int) and self.reward_ids and reward % 2 == 0:
            path["reward_id"] = self.reward_ids[reward % len(self.reward_ids)]
        if case.meta is not None and case.meta.generation.mode.is_negative:
            return
        if isinstance(case.query, dict):
            case.query.pop("cursor", None)  # opaque: a client takes it from a `next` link
        for body in _bodies(case.body):
            for name, value in PROGRAM_TERMS.items():
                if isinstance(body.get(name), str):
                    body[name] = value()

    def sign(self, case: Any) -> None:
        """The credentials the operation's `security` names: the API key, or the member's
        session with its CSRF token."""
        security = case.operation.definition.raw.get("security", [])
        schemes = {name for option in security for name in option}
        if "ApiKeyAuth" in schemes:
            case.headers["Authorization"] = f"Api-Key {self.key}"
        elif "cookieAuth" in schemes:
            case.cookies = {**(case.cookies or {}), "sessionid": self.session, "csrftoken": CSRF}
            case.headers["X-CSRFToken"] = CSRF


PROGRAM_TERMS = {  # values the program's settings decide, not the schema
    "currency": lambda: "USD",
    "occurred_at": lambda: (timezone.now() - timedelta(hours=1)).isoformat(),
    "birthday": lambda: "1990-05-17",
    "joined_on": lambda: (timezone.localdate() - timedelta(days=30)).isoformat(),
}


def _bodies(body: Any) -> list[dict[str, Any]]:
    """The JSON objects that may carry such a value: the body, each event of a batch, and
    an event's order."""
    if not isinstance(body, dict):
        return []
    events = body.get("events")
    found = (
        [body, *(e for e in events if isinstance(e, dict))] if isinstance(events, list) else [body]
    )
    return found + [e["order"] for e in found if isinstance(e.get("order"), dict)]


@pytest.fixture
def demo(db: Any) -> Demo:
    return Demo()


@pytest.fixture
def api_schema(demo: Demo) -> Any:
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", application)

    @loaded.auth()
    class Credentials:
        """Schemathesis knows these are the credentials, and removes or spoils them in its
        authentication checks (an operation must refuse a request without them)."""

        def get(self, case: Any, context: Any) -> Demo:
            return demo

        def set(self, case: Any, data: Demo, context: Any) -> None:
            data.sign(case)

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented(case: Any, demo: Demo) -> None:
    demo.prepare(case)
    case.call_and_validate()


@pytest.fixture
def one_connection() -> Iterator[None]:
    """Requests share the test's connection and transaction, as with Django's test client (a
    server closes its connection when a request ends)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_sequences_of_linked_operations_answer_as_documented(
    one_connection: None, api_schema: Any, demo: Demo
) -> None:
    """Stateful: an answer's values (a new member's number...) feed the next request. Each
    sequence starts from the same data (a savepoint rolled back after it), so that Hypothesis
    can replay a failing sequence and shrink it."""
    machine = api_schema.as_state_machine()
    linked: list[str] = []

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            cache.clear()
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case: Any) -> None:
            demo.prepare(case)

        def step(self, input: Any) -> Any:
            if input.transition is not None:  # a request built from an earlier answer
                linked.append(input.case.operation.label)
            return super().step(input)

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert len(linked) >= EXAMPLES, f"only {len(linked)} linked requests were sent"
