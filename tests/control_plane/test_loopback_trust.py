"""``auth.trust_loopback``'s rules: which addresses are loopback, which settings refuse to
start, which requests are trusted. (End to end against ``mlserve up``:
tests/cli/test_up_seed_s2.py.)"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import (
    check_trust_loopback,
    is_loopback,
    trusted_local,
)
from mlserve.errors import SettingsError


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("203.0.113.9", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_only_loopback_addresses_are_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "mlserve.internal"])
def test_trust_on_a_networked_bind_is_refused_naming_the_setting_and_the_fix(host: str) -> None:
    with pytest.raises(SettingsError) as refused:
        check_trust_loopback(True, host)
    message = refused.value.message
    assert "auth.trust_loopback" in message
    assert host in message
    assert "MLSERVE_AUTH__TRUST_LOOPBACK=false" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("trust", "host"),
    [(True, "127.0.0.1"), (True, "::1"), (None, "0.0.0.0"), (False, "0.0.0.0")],
)
def test_trust_off_or_on_loopback_starts(trust: bool | None, host: str) -> None:
    check_trust_loopback(trust, host)


def request(headers: dict[str, str], *, peer: str = "127.0.0.1", trust: bool = True) -> Request:
    app = FastAPI()
    app.state.trust_loopback = trust
    raw = [
        (k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8080", **headers}.items()
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/models/m/promote",
        "headers": raw,
        "client": (peer, 50000),
        "app": app,
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("headers", "peer", "trust", "trusted"),
    [
        ({}, "127.0.0.1", True, True),  # curl on this machine
        ({"host": "localhost:8080"}, "::1", True, True),
        ({"host": "[::1]:8080"}, "::1", True, True),
        ({}, "127.0.0.1", False, False),  # the setting is off
        ({}, "10.1.2.3", True, False),  # another machine
        ({"x-forwarded-for": "203.0.113.9"}, "127.0.0.1", True, False),  # a local proxy
        ({"forwarded": "for=203.0.113.9"}, "127.0.0.1", True, False),
        ({"x-real-ip": "203.0.113.9"}, "127.0.0.1", True, False),
        ({"origin": "https://evil.example"}, "127.0.0.1", True, False),  # a web page
        ({"sec-fetch-site": "cross-site"}, "127.0.0.1", True, False),
        ({"referer": "https://evil.example/"}, "127.0.0.1", True, False),
        ({"host": "evil.example:8080"}, "127.0.0.1", True, False),  # DNS rebinding
    ],
)
def test_only_direct_untokened_requests_from_this_machine_are_trusted(
    headers: dict[str, str], peer: str, trust: bool, trusted: bool
) -> None:
    assert trusted_local(request(headers, peer=peer, trust=trust)) is trusted
