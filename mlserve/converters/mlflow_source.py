"""Models from an MLflow tracking server or registry, exported like any other model.

Usage::

    source = MlflowSource(tracking_uri="http://127.0.0.1:5000", timeout_s=10)
    imported = source.export("models:/churn/3", name="churn")   # or models:/churn@champion,
    ...publish imported.exported...                              # models:/churn/Production,
    source.tag_serving(imported, served_as=4, where="http://...")  # runs:/<run_id>/model

What happens:

1. ``models:/<name>/<version|alias|stage>`` (or ``models:/<name>@<alias>``) is resolved to
   one registered version and its run; ``runs:/<run_id>/<path>`` to its run.
2. The model folder is downloaded to a temporary directory; its ``MLmodel`` file names the
   flavors. The first of sklearn, xgboost, lightgbm, pytorch, transformers it holds picks
   the loader and the converter (:func:`mlserve.converters.loading.export_native_model`,
   or the transformer/PyTorch folder converters); any other flavor is refused by name.
3. The signature's input names become the feature list, the input example the parity and
   reference rows (text models: its texts).
4. Run id, params and metrics go into the version's metadata (``extra["mlflow"]``; numeric
   run metrics also into ``metrics``).

An unreachable server is found by a health probe bounded by ``timeout_s`` before MLflow's
own client (which retries for minutes) is used, and MLflow's retries are turned off for
this process's calls. Loading a pickled flavor runs code from the artifact: with
``trusted=False`` (the HTTP API) pickled scikit-learn files are screened with the deploy
allowlist first and pickled PyTorch modules are refused; skops, XGBoost and LightGBM
files are data formats.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlserve.converters.base import ExportedModel
from mlserve.errors import (
    InvalidInputError,
    MLServeError,
    NotFoundError,
    ServiceUnavailableError,
)

SUPPORTED_FLAVORS = ("sklearn", "xgboost", "lightgbm", "pytorch", "transformers")
_URI = re.compile(r"^(models|runs):/")
_STAGES = {"none", "staging", "production", "archived"}
TAG_SERVED_AS = "mlserve.served_as"
TAG_SERVED_AT = "mlserve.served_at"


def is_mlflow_uri(text: str) -> bool:
    """True for ``models:/...`` and ``runs:/...``."""
    return bool(_URI.match(text))


if TYPE_CHECKING:
    from mlserve.converters.mlflow_flavors import PickledExport


@dataclass
class MlflowImport:
    """An exported MLflow model and where it came from."""

    exported: ExportedModel
    model_uri: str
    flavor: str
    run_id: str | None
    registered_name: str | None = None
    registered_version: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


class MlflowSource:
    """One MLflow tracking server (``tracking_uri``; default ``MLFLOW_TRACKING_URI``)."""

    def __init__(self, tracking_uri: str | None = None, *, timeout_s: float = 10.0) -> None:
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise InvalidInputError(
                "no MLflow tracking server: set MLFLOW_TRACKING_URI or pass --tracking-uri "
                "(mlflow.tracking_uri in the settings)"
            )
        self.tracking_uri = uri.rstrip("/")
        self.timeout_s = timeout_s

    # -- reaching the server ------------------------------------------------------------

    def check_reachable(self) -> None:
        """Raise ServiceUnavailableError within ``timeout_s`` when the server does not answer."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return
        import httpx

        try:
            answer = httpx.get(f"{self.tracking_uri}/health", timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"MLflow at {self.tracking_uri} is unreachable ({type(exc).__name__}): start "
                "it or fix MLFLOW_TRACKING_URI / --tracking-uri"
            ) from None
        if answer.status_code >= 500:
            raise ServiceUnavailableError(
                f"MLflow at {self.tracking_uri} answered {answer.status_code} to /health"
            )

    def _client(self) -> Any:
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(self.timeout_s)))
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    # -- resolving ----------------------------------------------------------------------

    def resolve(self, model_uri: str) -> tuple[str, str | None, str | None, str | None]:
        """``(download uri, run id, registered name, registered version)`` of ``model_uri``."""
        from mlflow.exceptions import MlflowException

        if not is_mlflow_uri(model_uri):
            raise InvalidInputError(
                f"model URI {model_uri!r} is not an MLflow URI: use models:/<name>/<version|"
                "alias|stage> or runs:/<run_id>/<artifact_path>"
            )
        client = self._client()
        try:
            if model_uri.startswith("runs:/"):
                parts = model_uri.removeprefix("runs:/").strip("/").split("/", 1)
                if len(parts) != 2 or not parts[0] or not parts[1]:
                    raise InvalidInputError(
                        f"{model_uri!r} must be runs:/<run_id>/<artifact_path>, "
                        "e.g. runs:/0a1b2c/model"
                    )
                client.get_run(parts[0])
                return model_uri, parts[0], None, None
            name, version = self._registered_version(client, model_uri)
            details = client.get_model_version(name, version)
            # The version's own artifact location: a models:/ URI would be resolved against
            # the process-wide registry, not this server.
            download = client.get_model_version_download_uri(name, version)
            return download, details.run_id, name, str(version)
        except MlflowException as exc:
            raise self._mlflow_error(model_uri, exc) from None

    @staticmethod
    def _registered_version(client: Any, model_uri: str) -> tuple[str, str]:
        rest = model_uri.removeprefix("models:/").strip("/")
        if "@" in rest and "/" not in rest:
            name, alias = rest.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        name, _, selector = rest.partition("/")
        if not name or not selector:
            raise InvalidInputError(
                f"{model_uri!r} must be models:/<name>/<version|alias|stage> or "
                "models:/<name>@<alias>, e.g. models:/churn/3"
            )
        if selector.isdigit():
            return name, selector
        if selector.lower() in _STAGES:
            latest = client.get_latest_versions(name, stages=[selector.capitalize()])
            if not latest:
                raise NotFoundError(f"registered model {name!r} has no version in {selector}")
            return name, str(latest[0].version)
        return name, str(client.get_model_version_by_alias(name, selector).version)

    def _mlflow_error(self, model_uri: str, exc: Exception) -> MLServeError:
        code = str(getattr(exc, "error_code", ""))
        text = str(getattr(exc, "message", exc)).strip().splitlines()[0][:200]
        if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in text.lower():
            return NotFoundError(f"MLflow at {self.tracking_uri} has no {model_uri}: {text}")
        if code == "INVALID_PARAMETER_VALUE":
            return InvalidInputError(f"MLflow refused {model_uri}: {text}")
        return ServiceUnavailableError(f"MLflow at {self.tracking_uri} failed: {text}")

    # -- exporting ----------------------------------------------------------------------

    def export(
        self,
        model_uri: str,
        *,
        name: str,
        trusted: bool = True,
        pickled_export: PickledExport | None = None,
    ) -> MlflowImport:
        """Download, load and export ``model_uri`` (see the module docstring); untrusted
        pickles go to ``pickled_export`` (a sandboxed exporter)."""
        from mlflow.exceptions import MlflowException

        self.check_reachable()
        download_uri, run_id, registered, version = self.resolve(model_uri)
        provenance = self._run_provenance(run_id)
        provenance.update(model_uri=model_uri, tracking_uri=self.tracking_uri)
        if registered is not None:
            provenance.update(registered_model=registered, registered_version=version)
        with tempfile.TemporaryDirectory(prefix="mlserve-mlflow-") as tmp:
            try:
                import mlflow.artifacts

                local = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=download_uri, dst_path=tmp, tracking_uri=self.tracking_uri
                    )
                )
            except MlflowException as exc:
                raise self._mlflow_error(model_uri, exc) from None
            from mlserve.converters.mlflow_flavors import export_model_folder

            flavor, exported = export_model_folder(
                local, name=name, trusted=trusted, pickled_export=pickled_export
            )
        metrics = provenance.get("metrics", {})
        exported.metrics = {**metrics, **exported.metrics}
        exported.extra["mlflow"] = {**provenance, "flavor": flavor}
        return MlflowImport(
            exported=exported,
            model_uri=model_uri,
            flavor=flavor,
            run_id=run_id,
            registered_name=registered,
            registered_version=version,
            provenance=provenance,
        )

    def _run_provenance(self, run_id: str | None) -> dict[str, Any]:
        if run_id is None:
            return {}
        run = self._client().get_run(run_id)
        metrics = {
            str(k): float(v)
            for k, v in run.data.metrics.items()
            if isinstance(v, int | float) and math.isfinite(v)
        }
        return {
            "run_id": run_id,
            "experiment_id": run.info.experiment_id,
            "params": {str(k): str(v)[:500] for k, v in run.data.params.items()},
            "metrics": metrics,
        }

    # -- after publishing ---------------------------------------------------------------

    def tag_serving(self, imported: MlflowImport, *, served_as: str, where: str) -> None:
        """Tag the registered version (or the run) with where and as which version it
        serves; a failure here does not undo the publish (the caller reports it)."""
        client = self._client()
        tags = {TAG_SERVED_AS: served_as, TAG_SERVED_AT: where}
        for key, value in tags.items():
            if imported.registered_name and imported.registered_version:
                client.set_model_version_tag(
                    imported.registered_name, imported.registered_version, key, value
                )
            elif imported.run_id:
                client.set_tag(imported.run_id, key, value)
