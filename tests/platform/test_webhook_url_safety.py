"""Webhook URLs: internal addresses are refused (SSRF) unless explicitly allowed."""

from __future__ import annotations

import pytest

from mlserve.errors import InvalidInputError
from mlserve.platform.url_safety import blocked_reason, check_webhook_url


class StaticDNS:
    """A resolver answering from a table, standing in for DNS (no network here)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return self.table[host]


DNS = StaticDNS(
    {
        "hooks.example.com": ["93.184.216.34"],
        "sneaky.example.com": ["93.184.216.34", "10.0.0.7"],
        "metadata.example.com": ["169.254.169.254"],
    }
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.5", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "multicast"),
        ("93.184.216.34", None),
        ("2606:4700::6810:85e5", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(address) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/hook",
        "https://metadata.example.com/",
        "https://sneaky.example.com/hook",
        "http://localhost:9000/hook",
    ],
)
async def test_internal_targets_are_refused_naming_url_and_setting(url: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        await check_webhook_url(
            url, allow_private=False, resolver=DNS if "example" in url else None
        )
    assert url in refused.value.message
    assert "MLSERVE_WEBHOOK_ALLOW_PRIVATE=true" in refused.value.message


async def test_public_targets_pass_and_private_ones_pass_when_allowed() -> None:
    url = "https://hooks.example.com/mlserve"
    assert await check_webhook_url(url, allow_private=False, resolver=DNS) == url
    assert await check_webhook_url("http://93.184.216.34/x", allow_private=False) is not None
    local = "http://127.0.0.1:9000/hook"
    assert await check_webhook_url(local, allow_private=True) == local


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "webhook url is required"),
        ("ftp://example.com/x", "must be an http:// or https:// URL"),
        ("https:///nohost", "must be an http:// or https:// URL"),
        ("http://example.com:99999/", "not a valid URL"),
        ("https://unknown.example.com/", "does not resolve"),
    ],
)
async def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        await check_webhook_url(url, allow_private=False, resolver=DNS)
