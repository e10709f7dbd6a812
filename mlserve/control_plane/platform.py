"""Wiring of the ``/api/v1`` platform (the ``mlserve-sdk`` protocol) onto the serving stack."""

from __future__ import annotations

from mlserve.control_plane.routes.api_v1 import ApiV1, build_api_v1
from mlserve.control_plane.stack import ServingStack
from mlserve.platform.config import sandbox_settings
from mlserve.platform.upload_sandbox import UploadSandbox
from mlserve.serving.platform_adapters import RepositoryCatalog, TritonDeployer, TritonLifecycle
from mlserve.serving.tabular_predictor import TabularPredictor
from mlserve.settings import Settings


def build_platform(settings: Settings, stack: ServingStack) -> ApiV1:
    """The platform API over ``stack``'s repository, publisher and Triton client."""
    return build_api_v1(
        settings,
        deployer=TritonDeployer(stack.publisher, sandbox=UploadSandbox(sandbox_settings(settings))),
        lifecycle=TritonLifecycle(stack.publisher),
        predictor=TabularPredictor(
            stack.repository, stack.triton, timeout_s=settings.triton.request_timeout_s
        ),
        model_catalog=RepositoryCatalog(stack.repository, stack.triton),
    )
