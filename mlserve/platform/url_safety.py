"""Webhook URLs must not turn the control plane into a proxy into its own network (SSRF).

A URL is refused when its host is, or resolves to, a loopback, private, link-local,
unspecified, multicast, reserved or otherwise non-public address — unless the operator set
``MLSERVE_WEBHOOK_ALLOW_PRIVATE=true`` (e.g. receivers on the same private network).
Every resolved address must be public, and the check is repeated before each delivery so a
DNS answer that changes later is caught too (a resolver switching between the check and the
connection remains possible; redirects are never followed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from mlserve.errors import InvalidInputError

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP addresses``; the default asks the system resolver."""

ALLOW_SETTING = "MLSERVE_WEBHOOK_ALLOW_PRIVATE=true"
MAX_URL_LENGTH = 2048


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def blocked_reason(address: str) -> str | None:
    """Why ``address`` is not a public address, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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
    if allow_private:
        return url
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
    for address in addresses:
        reason = blocked_reason(address)
        if reason is not None:
            raise InvalidInputError(
                f"webhook url {url!r} points to {address}, a {reason} address; webhooks to "
                f"internal addresses are refused to prevent SSRF. Use a public URL, or set "
                f"{ALLOW_SETTING} if the receiver is meant to be on a private network"
            )
    return url
