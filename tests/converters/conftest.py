"""Fixtures of the converter tests: a user's PyTorch package on ``sys.path`` and one
trained-looking model saved in each form the PyTorch converter reads."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.pytorch_models import USER_PACKAGE


@pytest.fixture(scope="module")
def user_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("user_package")
    (folder / "user_models.py").write_text(textwrap.dedent(USER_PACKAGE))
    sys.path.insert(0, str(folder))
    import user_models

    yield user_models
    sys.path.remove(str(folder))
    sys.modules.pop("user_models", None)


@pytest.fixture(scope="module")
def model_files(user_package: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One trained-looking BagOfWords saved in all three forms."""
    import torch

    from mlserve.converters.pytorch import PickledModuleFile, StateDictFile, TorchScriptFile

    folder = tmp_path_factory.mktemp("model_files")
    model = user_package.build().eval()
    torch.jit.save(torch.jit.script(model), folder / "model.ts")
    torch.save(model.state_dict(), folder / "weights.pt")
    torch.save(model, folder / "module.pt")
    return {
        "native": model,
        "torchscript": TorchScriptFile(folder / "model.ts"),
        "state_dict": StateDictFile(folder / "weights.pt", factory="user_models:build"),
        "pickled": PickledModuleFile(folder / "module.pt"),
    }
