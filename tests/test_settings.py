"""Derived settings: where inference reaches Triton."""

from __future__ import annotations

from mlserve.settings import Settings


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
