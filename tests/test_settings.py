"""Derived settings (where inference reaches Triton) and invalid ones named in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from mlserve.errors import SettingsError
from mlserve.settings import Settings, describe_invalid_settings, get_settings


def test_inference_goes_to_the_configured_http_url_or_the_grpc_host_on_the_http_port() -> None:
    assert Settings(triton={"http_url": "http://t:9000"}).inference_http_url == "http://t:9000"
    external = Settings(triton_url="triton.internal:8001", triton={"http_port": 8000})
    assert external.inference_http_url == "http://triton.internal:8000"
    embedded = Settings(triton={"host": "127.0.0.1", "http_port": 18000})
    assert embedded.inference_http_url == "http://127.0.0.1:18000"


def test_grpc_inference_has_no_http_url() -> None:
    settings = Settings(triton={"infer_protocol": "grpc", "http_url": "http://t:9000"})
    assert settings.inference_http_url is None


def test_calls_in_flight_default_to_one_per_model_instance() -> None:
    assert Settings().triton.effective_calls_in_flight == Settings().triton.instance_count
    assert Settings(triton={"instance_count": 3}).triton.effective_calls_in_flight == 3
    assert Settings(triton={"calls_in_flight": 0}).triton.effective_calls_in_flight == 0


def settings_error_message() -> str:
    """The message of the SettingsError that building the process settings now raises."""
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    return caught.value.message


def test_an_invalid_setting_names_its_variable_value_and_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLSERVE_TRITON__GATHER_TURNS", "-1")
    monkeypatch.setenv("MLSERVE_CACHE__TTL_SECONDS", "soon")
    message = settings_error_message()
    assert "\n" not in message
    assert (
        "invalid setting triton.gather_turns = '-1' (MLSERVE_TRITON__GATHER_TURNS or "
        "triton.gather_turns in config.yaml): Input should be greater than or equal to 0"
    ) in message
    assert "cache.ttl_seconds = 'soon' (MLSERVE_CACHE__TTL_SECONDS" in message


def test_an_unknown_key_is_refused_wherever_it_comes_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cahce:\n  ttl_seconds: 5\nmonitoring:\n  prot: 9100\n")
    monkeypatch.setenv("MLSERVE_CONFIG", str(config))
    monkeypatch.setenv("MLSERVE_TRITON__GATHER_TRUNS", "2")
    message = settings_error_message()
    unknown = "no such setting (misspelt or retired?); mlserve/settings.py lists them all"
    assert f"invalid setting cahce (MLSERVE_CAHCE or cahce in {config}): {unknown}" in message
    assert "invalid setting monitoring.prot = 9100 (MLSERVE_MONITORING__PROT" in message
    assert "invalid setting triton.gather_truns = '2' (MLSERVE_TRITON__GATHER_TRUNS" in message


def test_the_shipped_config_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = Path(__file__).parents[1] / "config.yaml"
    monkeypatch.setenv("MLSERVE_CONFIG", str(shipped))

    settings = Settings()

    assert settings.cache.max_size == yaml.safe_load(shipped.read_text())["cache"]["max_size"]


def test_an_invalid_credential_is_named_without_its_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(auth={"admin_password": ["hunter2"]}, redis_url=["redis://:pw@host"])

    message = describe_invalid_settings(caught.value)
    assert "invalid setting auth.admin_password (MLSERVE_AUTH__ADMIN_PASSWORD" in message
    assert "invalid setting redis_url (MLSERVE_REDIS_URL" in message
    assert "hunter2" not in message
    assert "pw@host" not in message


def test_an_invalid_combination_is_named_by_its_section() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(limits={"default_timeout_ms": 5_000, "max_timeout_ms": 1_000})

    message = describe_invalid_settings(caught.value)
    assert message.startswith("invalid setting limits (MLSERVE_LIMITS or limits in ")
    assert "default_timeout_ms (5000) exceeds" in message


def test_the_cli_answers_an_invalid_setting_with_one_line_and_status_2() -> None:
    env = {**os.environ, "MLSERVE_TRITON__INSTANCE_COUNT": "0"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mlserve"), "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: invalid setting triton.instance_count = '0' (MLSERVE_TRITON__INSTANCE_COUNT or "
        "triton.instance_count in config.yaml): Input should be greater than or equal to 1"
    ]
