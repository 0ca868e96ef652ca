"""With WEBHOOKS_ALLOW_PRIVATE_URLS off (production), nothing is sent to a private address:
http is refused, and so is every host that resolves to loopback, private, link-local (the
cloud metadata service at 169.254.169.254)... at delivery time. The refusal is recorded as an
attempt."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from members.models import ApiKey
from webhooks import transport
from webhooks.delivery import endpoint_send
from webhooks.models import WebhookAttempt, WebhookMessage
from webhooks.safety import UnsafeUrl, url_check_delivery, url_check_registration

from .support import Receiver, make_endpoint, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_webhooks", "queued")]


@pytest.fixture
def production(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False


@pytest.fixture
def posts(monkeypatch: Any) -> list[str]:
    """Every request the sender would make (none may leave here)."""
    made: list[str] = []
    real = transport.Client.post

    def post(self: transport.Client, target: transport.Target, *args: Any) -> Any:
        made.append(f"{target.scheme}://{target.host_header}{target.path}")
        return real(self, target, *args)

    monkeypatch.setattr(transport.Client, "post", post)
    return made


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:{port}/hook", "Not sent: Webhook URLs must use https."),
        ("http://169.254.169.254/latest/meta-data/", "Not sent: Webhook URLs must use https."),
        (
            "https://127.0.0.1:{port}/hook",
            "Not sent: Refused: 127.0.0.1 resolves to 127.0.0.1, a private address.",
        ),
        (
            "https://169.254.169.254/latest/meta-data/",
            "Not sent: Refused: 169.254.169.254 resolves to 169.254.169.254, a private address.",
        ),
        (
            "https://localhost:{port}/hook",
            "Not sent: Refused: localhost resolves to 127.0.0.1, a private address.",
        ),
    ],
)
def test_a_private_address_is_refused_at_delivery_and_the_refusal_recorded(
    owner: ApiKey, receiver: Receiver, posts: list[str], url: str, error: str, monkeypatch: Any
) -> None:
    if "localhost" in url:  # the name resolves to loopback only (no ::1 answer to depend on)
        real = socket.getaddrinfo
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda host, *a, **k: real("127.0.0.1" if host == "localhost" else host, *a, **k),
        )
    endpoint = make_endpoint(owner, receiver, url=url.format(port=receiver.port))
    record("tier.changed")

    assert endpoint_send(endpoint_id=endpoint.pk) == 1
    assert posts == []
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, error)
    message = WebhookMessage.objects.get()
    assert (message.status, message.attempts) == ("pending", 1)


@pytest.mark.usefixtures("production")
def test_a_public_name_is_checked_again_at_each_delivery(monkeypatch: Any) -> None:
    answers = {"addr": "93.184.215.14"}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["addr"], port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    url_check_registration("https://hooks.example.com/in")
    url_check_delivery("https://hooks.example.com/in")  # public: allowed
    answers["addr"] = "169.254.169.254"  # the name now points at the metadata service
    with pytest.raises(UnsafeUrl, match="169.254.169.254, a private address"):
        url_check_delivery("https://hooks.example.com/in")
    answers["addr"] = "::ffff:10.0.0.1"  # an IPv4-mapped private address
    with pytest.raises(UnsafeUrl, match="a private address"):
        url_check_delivery("https://hooks.example.com/in")


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://10.1.2.3/in",
        "https://[::1]/in",
        "https://169.254.169.254/",
        "https://0.0.0.0/",
        "https://localhost/in",
        "https://224.0.0.1/",
    ],
)
def test_registration_refuses_what_can_never_be_allowed(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        url_check_registration(url)


def test_local_and_test_settings_allow_a_receiver_on_this_machine() -> None:
    url_check_registration("http://127.0.0.1:8000/hook")
    url_check_delivery("http://127.0.0.1:8000/hook")
