"""Wiring of the ``/api/v1`` platform (the ``mlserve-sdk`` protocol) onto the serving stack."""

from __future__ import annotations

from mlserve.control_plane.routes.api_v1 import ApiV1, build_api_v1
from mlserve.control_plane.stack import ServingStack
from mlserve.platform.config import sandbox_settings
from mlserve.platform.upload_sandbox import UploadSandbox
from mlserve.serving.platform_adapters import RepositoryCatalog, TritonDeployer, TritonLifecycle
from mlserve.settings import Settings


def build_platform(settings: Settings, stack: ServingStack) -> ApiV1:
    """The platform API over ``stack``'s repository, publisher and data plane; the data
    plane's router then routes every route by the platform's A/B weights."""
    api_v1 = build_api_v1(
        settings,
        deployer=TritonDeployer(stack.publisher, sandbox=UploadSandbox(sandbox_settings(settings))),
        lifecycle=TritonLifecycle(stack.publisher),
        predictor=stack.dataplane,
        model_catalog=RepositoryCatalog(stack.repository, stack.triton),
    )
    abtests = api_v1.services.abtests
    stack.router.use_weights(abtests)
    abtests.on_change(stack.router.forget_weights)
    return api_v1
