"""The control-plane image installs every extra a published model may need.

A repository may hold PyTorch, transformer (the MiniLM sample) and tabular models; the
control plane imports their preprocessing (tokenizers, encoders) to serve them, so the image
installs every optional extra of pyproject.toml but ``dev``, with torch pinned as in
pyproject and taken from the CPU wheel index first, and fails its build if one is missing.
"""

from __future__ import annotations

import re
import tomllib

from tests.deploy.promql import DEPLOY, ROOT

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def installed_extras() -> set[str]:
    (spec,) = re.findall(r'pip install "\.\[([a-z,]+)\]"', DOCKERFILE)
    return set(spec.split(","))


def test_the_image_installs_every_extra_but_dev() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert installed_extras() == set(extras) - {"dev"}


def test_torch_is_the_pinned_cpu_build_installed_before_the_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pinned = next(req for req in extras["torch"] if req.startswith("torch"))
    assert pinned == "torch==2.13.0"
    torch_at = DOCKERFILE.index(f'--index-url https://download.pytorch.org/whl/cpu "{pinned}"')
    assert torch_at < DOCKERFILE.index('pip install ".[')


def test_the_build_fails_when_a_model_library_does_not_import() -> None:
    (check,) = re.findall(r"python -c \"import (torch[^;]+);", DOCKERFILE)
    modules = {name.strip() for name in check.split(",")}
    assert {"torch", "transformers", "tokenizers", "onnxmltools", "xgboost", "lightgbm"} <= modules
