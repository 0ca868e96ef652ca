"""The sender's HTTP client: a POST goes to an address webhooks.safety has just checked, not to
whatever the name resolves to a moment later (DNS rebinding: a name that answered a public
address to the check and 169.254.169.254 to the connection). The URL's name still goes in the
Host header, in TLS's SNI and in the certificate check, so https works as with any client.

urllib3 (the pools and TLS under `requests`) does the HTTP: one pool per (scheme, checked
address, port, name), kept for a sender's run, so one receiver's messages reuse a kept-alive
connection. No redirects, no retries (the sender's schedule retries), timeouts from settings."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

from .safety import url_check_delivery

RESPONSE_BYTES = 4096  # read of an answer; a longer answer's connection is not reused


@dataclass(frozen=True)
class Target:
    """Where one URL's POST goes: the checked address, and the name it stands for."""

    scheme: str
    name: str
    port: int
    address: str
    path: str
    host_header: str


def target_for(url: str) -> Target:
    """Resolve and check the URL now (UnsafeUrl when refused); its first checked address."""
    addresses = url_check_delivery(url)
    parts = urlsplit(url)
    name = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    netloc = parts.netloc.rpartition("@")[2]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, name, port, addresses[0], path, netloc)


class Client:
    """A run's connections, one pool per target; close() when the run ends."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._timeout = urllib3.Timeout(
            connect=settings.WEBHOOKS_CONNECT_TIMEOUT, read=settings.WEBHOOKS_READ_TIMEOUT
        )

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.name)
        pool = self._pools.get(key)
        if pool is None:
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    target.address,
                    target.port,
                    maxsize=1,
                    timeout=self._timeout,
                    retries=False,
                    server_hostname=target.name,
                    assert_hostname=target.name,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=certifi.where(),
                )
            else:
                pool = urllib3.HTTPConnectionPool(
                    target.address, target.port, maxsize=1, timeout=self._timeout, retries=False
                )
            self._pools[key] = pool
        return pool

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The answer's status and its first RESPONSE_BYTES bytes; urllib3's errors raise."""
        response = self._pool(target).urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "host": target.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            text = response.read(RESPONSE_BYTES, decode_content=True)
            if response.read(RESPONSE_BYTES, decode_content=False):
                response.close()  # more than we keep: do not wait for the rest
        except BaseException:
            response.close()
            raise
        finally:
            response.release_conn()
        return response.status, text

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
