"""Where a webhook may be sent: unless WEBHOOKS_ALLOW_PRIVATE_URLS (local and test settings),
only to https URLs whose host resolves to public addresses only. Checked when an endpoint is
registered (the scheme, a literal address) and again before every delivery (what the name
resolves to now): a name that pointed at a public address may point at 169.254.169.254
tomorrow. The sender then connects to an address this check returned (webhooks.transport),
never to a second answer for the name (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class UnsafeUrl(Exception):
    """A URL webhooks must not be sent to, and why."""


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _host(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS and parts.scheme != "https":
        raise UnsafeUrl(_("Webhook URLs must use https."))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(_("Not an http(s) URL."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(_("Not a valid port.")) from exc
    return parts.hostname, port


def url_check_registration(url: str) -> None:
    """Raise UnsafeUrl for a URL that can never be allowed (the scheme, a literal private
    address); the name's addresses are checked at every delivery."""
    host, _port = _host(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeUrl(_("Webhooks may not be sent to a private address.")) from None
        return
    if _private(address):
        raise UnsafeUrl(_("Webhooks may not be sent to a private address."))


def url_check_delivery(url: str) -> list[str]:
    """The addresses the URL's host resolves to now, in the resolver's order; raise
    UnsafeUrl unless every one is public (WEBHOOKS_ALLOW_PRIVATE_URLS: any)."""
    host, port = _host(url)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(_("The host does not resolve: %(error)s") % {"error": exc}) from exc
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        for found in addresses:
            address = ipaddress.ip_address(found)
            if _private(address):
                raise UnsafeUrl(
                    _("Refused: %(host)s resolves to %(address)s, a private address.")
                    % {"host": host, "address": address}
                )
    if not addresses:
        raise UnsafeUrl(_("The host does not resolve: %(error)s") % {"error": "no address"})
    return addresses
