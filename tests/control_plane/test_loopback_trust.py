"""``auth.trust_loopback``'s rules, as pure functions: which peers are loopback, and which
settings refuse to start. (End to end against ``mlserve up``: tests/cli/test_up_seed_s2.py.)"""

from __future__ import annotations

import pytest

from mlserve.control_plane.routes.api_v1.guards import check_trust_loopback, is_loopback
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
