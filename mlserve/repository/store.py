"""The Triton model repository on disk: versions, metadata, atomic publishing.

Layout::

    <root>/<model>/config.pbtxt          generated, never hand-edited
    <root>/<model>/labels.txt            labels of the newest version (Triton classification)
    <root>/<model>/state.json            stages, aliases, versions switched off (ReleaseState)
    <root>/<model>/history.jsonl         who changed stages and aliases, when and why
    <root>/<model>/<N>/model.onnx
    <root>/<model>/<N>/metadata.json

A version is assembled in a staging folder beside the repository and renamed into place,
so Triton never sees a half-written version. This module only touches files; loading into
Triton is :mod:`mlserve.serving.publisher`'s job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnx

from mlserve.converters.base import ExportedModel
from mlserve.errors import ConflictError, InvalidInputError, NotFoundError, ParityError
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata, TensorInfo
from mlserve.repository.options import ServingOptions
from mlserve.repository.release_state import ReleaseState, Transition
from mlserve.triton.model_config import (
    DataType,
    DynamicBatching,
    InstanceGroup,
    ModelConfig,
    QueuePolicy,
    TensorSpec,
    VersionPolicy,
    render_pbtxt,
)

MODEL_FILE = "model.onnx"
CONFIG_FILE = "config.pbtxt"
LABELS_FILE = "labels.txt"
STATE_FILE = "state.json"
HISTORY_FILE = "history.jsonl"
_HISTORY_READ_BYTES = 4 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_VERSION_SUFFIX = re.compile(r"-v\d+$")


def validate_model_name(name: str) -> str:
    """Model names become folder names and URL segments: keep them plain."""
    if not _NAME.match(name) or _VERSION_SUFFIX.search(name):
        raise InvalidInputError(
            f"model name {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter and not ending in '-v<N>' (that suffix names a version)"
        )
    return name


def check_requested_name(name: str) -> str:
    """A model name from a request, checked before it touches a path: the characters and
    length any model name has (it may still not exist). InvalidInputError names the rule,
    so ``../x``, absolute paths and 300-character names never reach the file system."""
    if not _NAME.match(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidInputError(
            f"model name {shown!r} is not a valid model name: names have 1-64 letters, "
            "digits, '_', '.' or '-' and start with a letter; GET /models lists the models"
        )
    return name


def _is_model_name(name: str) -> bool:
    return bool(_NAME.match(name))


class ModelRepository:
    """Read and write the model repository rooted at ``root``."""

    def __init__(self, root: Path, options: ServingOptions | None = None) -> None:
        self.root = root.resolve()
        self.options = options or ServingOptions()
        self.staging = self.root.parent / f".{self.root.name}.staging"

    # -- reading ------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        """Models with at least one published version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[int]:
        """Published versions of ``name``, ascending (empty if unknown or not a name)."""
        if not _is_model_name(name):
            return []
        model_dir = self.root / name
        if not model_dir.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in model_dir.iterdir()
            if p.is_dir()
            and p.name.isdigit()
            and not p.name.startswith("0")
            and (p / METADATA_FILE).is_file()
        )

    def latest_version(self, name: str) -> int | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def metadata(self, name: str, version: int) -> ModelMetadata:
        """The metadata of one version; :class:`NotFoundError` lists what exists."""
        path = self.version_dir(name, version) / METADATA_FILE
        if not path.is_file():
            raise self._not_found(name, version)
        return ModelMetadata.model_validate_json(path.read_text())

    def version_dir(self, name: str, version: int) -> Path:
        """The folder of a version; InvalidInputError for a name that is not a model name."""
        check_requested_name(name)
        return self.root / name / str(version)

    def release_state(self, name: str) -> ReleaseState:
        """Stages, aliases and switched-off versions of ``name`` (empty when never set)."""
        path = self.root / check_requested_name(name) / STATE_FILE
        if not path.is_file():
            return ReleaseState()
        return ReleaseState.model_validate_json(path.read_text())

    def disabled_versions(self, name: str) -> set[int]:
        return set(self.release_state(name).disabled_versions)

    def active_versions(self, name: str) -> list[int]:
        """The versions Triton is told to load: the newest ``serve_versions`` not disabled,
        plus the Production, aliased and held versions (whatever their age)."""
        state = self.release_state(name)
        disabled = set(state.disabled_versions)
        existing = self.versions(name)
        enabled = [v for v in existing if v not in disabled]
        window = set(enabled[-self.options.serve_versions :])
        pinned = {v for v in state.pinned() if v in existing and v not in disabled}
        return sorted(window | pinned)

    def history(self, name: str, limit: int = 100) -> list[Transition]:
        """The newest ``limit`` release transitions of ``name``, oldest first."""
        path = self.root / check_requested_name(name) / HISTORY_FILE
        if not path.is_file():
            return []
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _HISTORY_READ_BYTES))
            lines = handle.read().splitlines()
        if size > _HISTORY_READ_BYTES:
            lines = lines[1:]  # the first line may be cut
        return [Transition.model_validate_json(line) for line in lines[-limit:] if line]

    # -- writing ------------------------------------------------------------------------

    def publish_version(
        self,
        exported: ExportedModel,
        name: str,
        version: int | None = None,
        *,
        reference_profile: dict[str, Any] | None = None,
    ) -> ModelMetadata:
        """Write ``exported`` as a new version of ``name`` and return its metadata.

        Refuses a failed parity check. The version folder appears atomically; on any
        failure the repository is left as it was.
        """
        validate_model_name(name)
        if not exported.parity.passed:
            raise ParityError(
                f"refusing to publish {name}: {exported.parity.summary()}",
                detail=exported.parity.to_dict(),
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        with self._lock(name):
            existing = self.versions(name)
            if version is None:
                version = (existing[-1] + 1) if existing else 1
            if version < 1:
                raise InvalidInputError(f"version must be >= 1, got {version}")
            if version in existing:
                raise ConflictError(
                    f"{name} v{version} exists already; publish without a version to get "
                    f"v{existing[-1] + 1}"
                )
            metadata = self._metadata_for(exported, name, version)
            metadata.reference_profile = reference_profile
            staged = self.staging / f"{name}-{version}-{uuid.uuid4().hex[:8]}"
            try:
                self._write_version(staged, exported, metadata)
                (self.root / name).mkdir(exist_ok=True)
                os.rename(staged, self.version_dir(name, version))
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            try:
                self._record_publish(name, version)
                self.write_config(name)
            except Exception:
                shutil.rmtree(self.version_dir(name, version), ignore_errors=True)
                raise
            return metadata

    def remove_version(self, name: str, version: int) -> None:
        """Delete a version from disk and regenerate the model's config."""
        with self._lock(name):
            target = self.version_dir(name, version)
            if not (target / METADATA_FILE).is_file():
                raise self._not_found(name, version)
            trash = self.staging / f"removed-{name}-{version}-{uuid.uuid4().hex[:8]}"
            self.staging.mkdir(parents=True, exist_ok=True)
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
            if self.versions(name):
                self.write_config(name)
            else:
                shutil.rmtree(self.root / name, ignore_errors=True)

    def set_version_enabled(self, name: str, version: int, enabled: bool) -> None:
        """Switch a version on or off for Triton without deleting it."""
        if version not in self.versions(name):
            raise self._not_found(name, version)

        def switch(state: ReleaseState) -> ReleaseState:
            disabled = set(state.disabled_versions)
            (disabled.discard if enabled else disabled.add)(version)
            return state.model_copy(update={"disabled_versions": sorted(disabled)})

        self.update_release(name, switch)

    def update_release(
        self,
        name: str,
        change: Callable[[ReleaseState], ReleaseState],
        transitions: Sequence[Transition] = (),
    ) -> ReleaseState:
        """Apply ``change`` to ``name``'s release state under the model's lock, write it
        atomically with its ``transitions`` appended to the history, and regenerate the
        config. ``change`` raising leaves everything as it was."""
        if not self.versions(name):
            raise self._not_found(name, None)
        with self._lock(name):
            state = change(self.release_state(name))
            _atomic_write(self.root / name / STATE_FILE, state.model_dump_json())
            if transitions:
                with open(self.root / name / HISTORY_FILE, "a") as history:
                    history.writelines(t.model_dump_json() + "\n" for t in transitions)
            self.write_config(name)
            return state

    def write_config(self, name: str) -> ModelConfig:
        """Regenerate ``config.pbtxt`` (and ``labels.txt``) from the versions on disk."""
        versions = self.versions(name)
        if not versions:
            raise self._not_found(name, None)
        newest = self.metadata(name, versions[-1])
        config = self.model_config(newest, self.active_versions(name))
        if newest.labels:
            _atomic_write(self.root / name / LABELS_FILE, "\n".join(newest.labels) + "\n")
        _atomic_write(self.root / name / CONFIG_FILE, render_pbtxt(config))
        return config

    def model_config(self, newest: ModelMetadata, active: list[int]) -> ModelConfig:
        """The Triton config for a model whose newest version is ``newest``."""
        from mlserve.kinds import kind_named

        opts = self.options
        backend = kind_named(newest.input_kind).triton_backend(opts.backend)
        # Token inputs of different lengths batch together only when the backend pads them.
        ragged = backend == "mlserve_onnx"
        outputs = []
        for i, out in enumerate(newest.outputs):
            labelled = i == 0 and bool(newest.labels) and newest.task == "classification"
            outputs.append(_tensor(out, LABELS_FILE if labelled else None))
        # Both limits off means no policy block at all (see TritonSettings.max_queue_size).
        policy = None
        if opts.max_queue_size or opts.queue_timeout_us:
            policy = QueuePolicy(
                timeout_action="REJECT",
                default_timeout_microseconds=opts.queue_timeout_us,
                allow_timeout_override=True,
                max_queue_size=opts.max_queue_size,
            )
        return ModelConfig(
            name=newest.name,
            backend=backend,
            max_batch_size=opts.max_batch_size,
            inputs=tuple(_tensor(i, ragged=ragged and -1 in i.dims) for i in newest.inputs),
            outputs=tuple(outputs),
            dynamic_batching=DynamicBatching(
                max_queue_delay_microseconds=opts.max_queue_delay_us,
                default_queue_policy=policy,
            ),
            instance_group=InstanceGroup(
                kind=opts.instance_kind,  # type: ignore[arg-type]
                count=opts.instance_count,
            ),
            version_policy=VersionPolicy(specific=tuple(active) or (newest.version,)),
        )

    # -- helpers ------------------------------------------------------------------------

    def _record_publish(self, name: str, version: int) -> None:
        """A new version starts in ``default_stage`` (held by the caller's lock)."""
        stage = self.options.default_stage
        if stage != "None":
            state = self.release_state(name)
            stages = {**state.stages, version: stage}
            updated = state.model_copy(update={"stages": stages})
            _atomic_write(self.root / name / STATE_FILE, updated.model_dump_json())
        entry = Transition(
            at=datetime.now(UTC), by="publish", action="publish", version=version, to_stage=stage
        )
        with open(self.root / name / HISTORY_FILE, "a") as history:
            history.write(entry.model_dump_json() + "\n")

    def _metadata_for(self, exported: ExportedModel, name: str, version: int) -> ModelMetadata:
        def info(spec: TensorSpec) -> TensorInfo:
            return TensorInfo(name=spec.name, datatype=spec.data_type.name, dims=list(spec.dims))

        return ModelMetadata(
            name=name,
            version=version,
            framework=exported.framework,
            task=exported.task,
            input_kind=exported.input_kind,
            inputs=[info(s) for s in exported.inputs],
            outputs=[info(s) for s in exported.outputs],
            labels=[str(label) for label in exported.labels],
            features=exported.features,
            preprocessing=exported.preprocessing,
            metrics=exported.metrics,
            training=exported.training,
            parity=exported.parity.to_dict(),
            extra=exported.extra,
            published_at=datetime.now(UTC),
        )

    def _write_version(self, folder: Path, exported: ExportedModel, meta: ModelMetadata) -> None:
        folder.mkdir(parents=True)
        if exported.onnx_model is not None:  # custom Python models run their own code
            onnx.save_model(exported.onnx_model, str(folder / MODEL_FILE))
        for rel, source in exported.extra_files.items():
            dest = folder / rel
            if source.is_dir():
                shutil.copytree(source, dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
        (folder / METADATA_FILE).write_text(meta.model_dump_json(indent=2))

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        self.staging.mkdir(parents=True, exist_ok=True)
        with open(self.staging / f"{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _not_found(self, name: str, version: int | None) -> NotFoundError:
        names = self.model_names()
        if name not in names:
            known = ", ".join(names) or "none"
            return NotFoundError(f"unknown model {name!r}; available models: {known}")
        versions = ", ".join(f"v{v}" for v in self.versions(name))
        return NotFoundError(f"{name} has no version v{version}; available: {versions}")


def _tensor(
    info: TensorInfo, label_filename: str | None = None, *, ragged: bool = False
) -> TensorSpec:
    return TensorSpec(
        name=info.name,
        allow_ragged_batch=ragged,
        data_type=DataType[info.datatype],
        dims=tuple(info.dims),
        label_filename=label_filename,
    )


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
