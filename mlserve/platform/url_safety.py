"""Webhook URLs must not turn the control plane into a proxy into its own network (SSRF).

A URL is refused when its host is, or resolves to, a loopback, private, link-local,
unspecified, multicast, reserved or otherwise non-public address — unless the operator set
``MLSERVE_WEBHOOK_ALLOW_PRIVATE=true`` (e.g. receivers on the same private network).
Every resolved address must be public. IPv6 forms that embed an IPv4 address (IPv4-mapped
and -compatible, 6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``, ISATAP interface ids) are refused when the embedded address is not
public. The check is repeated before each delivery, and the delivery connects to exactly
the addresses that check resolved (:class:`WebhookTarget`): a DNS answer that changes
between the check and the connection (rebinding) cannot redirect it. Redirects are never
followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlserve.errors import InvalidInputError

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP addresses``; the default asks the system resolver."""

ALLOW_SETTING = "MLSERVE_WEBHOOK_ALLOW_PRIVATE=true"
MAX_URL_LENGTH = 2048


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL and the addresses it resolved to: deliveries connect there."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]
    """The addresses the host resolved to (checked unless private targets are allowed):
    deliveries connect to these, in order."""


_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the form that carries it."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped", ip.ipv4_mapped))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("Teredo", server), ("Teredo", client)]
    if ip in _NAT64:
        found.append(("NAT64", low32))
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        found.append(("IPv4-compatible", low32))
    if (int(ip) >> 32) & 0xFDFFFFFF == 0x00005EFE:
        found.append(("ISATAP", low32))
    return found


def blocked_reason(address: str) -> str | None:
    """Why ``address`` is not a public address, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return "NAT64 local-use (64:ff9b:1::/48)"
        for form, inner in embedded_ipv4(ip):
            reason = blocked_reason(str(inner))
            if reason is not None:
                return f"{reason} ({form}-embedded {inner})"
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


async def check_webhook_url(
    url: str, *, allow_private: bool, resolver: Resolver | None = None
) -> str:
    """Return ``url`` when it may receive webhooks; InvalidInputError naming the URL, the
    reason and the setting otherwise."""
    return (await resolve_webhook_target(url, allow_private=allow_private, resolver=resolver)).url


async def resolve_webhook_target(
    url: str, *, allow_private: bool, resolver: Resolver | None = None
) -> WebhookTarget:
    """Check ``url`` (see the module docstring) and return it with the addresses to connect
    to; InvalidInputError naming the URL, the reason and the setting otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError("webhook url is required, e.g. https://example.com/hooks/mlserve")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInputError(f"webhook url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInputError(f"webhook url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"webhook url {url!r} must be an http:// or https:// URL with a host"
        )
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await (resolver or system_resolver)(host, port)
        except OSError as exc:
            raise InvalidInputError(
                f"webhook url {url!r}: host {host!r} does not resolve ({exc}); use a host "
                "name this server can resolve"
            ) from None
    if not addresses:
        raise InvalidInputError(f"webhook url {url!r}: host {host!r} has no address")
    for address in [] if allow_private else addresses:
        reason = blocked_reason(address)
        if reason is not None:
            raise InvalidInputError(
                f"webhook url {url!r} points to {address}, a {reason} address; webhooks to "
                f"internal addresses are refused to prevent SSRF. Use a public URL, or set "
                f"{ALLOW_SETTING} if the receiver is meant to be on a private network"
            )
    return WebhookTarget(url, host, port, tuple(addresses))
