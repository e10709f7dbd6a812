"""The Open Inference Protocol (KServe v2) on the control plane, for every kind of model.

``perf_analyzer``, ``tritonclient.http`` and KServe/MLServer clients drive the control plane
as they would drive Triton, and get its preprocessing, cache, routing and monitoring: an
infer request becomes a :class:`~mlserve.dataplane.request.PredictRequest` for the same
data plane as ``/predict``. Tensors, per kind:

* text and token models take one ``BYTES`` input (``[n]`` or ``[n, 1]``, any name; ``text``
  in the metadata) and answer ``probabilities`` (FP32 ``[n, classes]``) and ``label``
  (BYTES ``[n, 1]``);
* causal models take what tabular ones take, without the action column, and answer
  ``outcomes`` and ``effects`` (FP64 ``[n, actions]``, columns in the declared order of
  actions) and ``next_best_action`` (BYTES ``[n, 1]``, the action as text);
* recommenders are refused (422): ranking one user's candidates is no tensor mapping; use
  ``/predict`` or ``/api/v1/predict`` with ``user`` and ``candidates``;
* tabular and custom models take ``input`` (FP32 or FP64 ``[n, numeric features]`` in
  feature order; the metadata names the version's own type) and ``input_str`` (BYTES,
  string features) as Triton's own model does, or one tensor per feature named by the
  feature; they answer ``probabilities`` and ``label`` (classifiers), ``prediction`` (FP64,
  regressors) or ``scores`` (FP64 ``[n, 1]``, the detector's ``decision_function``:
  negative = outlier, lower = more anomalous) and ``label`` (INT64, 1 / -1; anomaly
  detectors).

Malformed protocol bodies are 400s; inputs the model cannot take are 422s naming the
feature; an unknown model is a 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlserve import __version__
from mlserve.control_plane.dependencies import stack_of
from mlserve.control_plane.errors import error_responses, json_response
from mlserve.control_plane.hot_routes import RawAnswer
from mlserve.control_plane.open_inference import (
    HEADER_LENGTH,
    InferRequest,
    encode_infer_response,
    parse_infer_request,
)
from mlserve.control_plane.open_inference_schemas import (
    InferRequest as InferRequestDoc,
)
from mlserve.control_plane.open_inference_schemas import (
    InferResponse,
    ModelMetadata,
    ServerMetadata,
)
from mlserve.control_plane.openapi_schema import inline_schema
from mlserve.control_plane.stack import ServingStack
from mlserve.dataplane.request import Prediction, PredictionBatch, PredictRequest
from mlserve.errors import BadRequestError, InvalidInputError, NotFoundError
from mlserve.kinds import Inputs, RecordInputs, TextInputs
from mlserve.kinds.causal import ServedCausal
from mlserve.kinds.tabular import ServedTabular
from mlserve.serving.registry import ResolvedModel

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
PREFIX, SUFFIX = "/v2/models/", "/infer"
_TYPES = {"BYTES": "TYPE_STRING", "FP32": "TYPE_FP32", "FP64": "TYPE_FP64", "INT64": "TYPE_INT64"}
_ON_MODEL = error_responses(404, 409, 422, 503)
_ON_INFER = error_responses(400, 404, 409, 413, 422, 429, 502, 503, 504)


def split_infer_path(path: str) -> tuple[str, int | None]:
    """``/v2/models/{name}[/versions/{v}]/infer`` -> ``(name, v)``; 404 otherwise."""
    middle = path[len(PREFIX) : -len(SUFFIX)]
    name, _, rest = middle.partition("/versions/")
    if not name or "/" in name:
        raise NotFoundError(f"no route POST {path}; use /v2/models/<name>[/versions/<v>]/infer")
    if not rest:
        return name, None
    if not rest.isdigit() or int(rest) < 1:
        raise NotFoundError(f"version {rest!r} in {path} is not a version number (1, 2, ...)")
    return name, int(rest)


async def infer_answer(stack: ServingStack, path: str, body: bytes, headers: Any = ()) -> RawAnswer:
    """The answer to ``POST {path}`` (an infer request); MLServeError subclasses for errors."""
    name, version = split_infer_path(path)
    header_length = None
    for key, value in headers:
        if key == b"inference-header-content-length":
            header_length = value.decode("latin-1")
    request = parse_infer_request(body, header_length)
    registry = stack.router.registry
    # the tensors' layout (kind, features, labels): from the last second's reads when fresh
    layout = registry.ready_now(name, version) or await registry.resolve(name, version)
    core = PredictRequest(
        _inputs(layout, request),
        model=name,
        version=version,
        timeout_ms=_timeout(request.parameters.get("timeout_ms")),
        endpoint="v2",
    )
    batch = await stack.dataplane.predict(core)
    outputs = _outputs(layout, batch, request.outputs)
    binary = {n for n, _ in outputs} if request.binary_default else request.binary_outputs
    content, length = encode_infer_response(
        batch.model,
        batch.version,
        outputs,
        binary=binary,
        request_id=request.request_id,
        parameters={
            "routed_by": batch.routed_by,
            "cached": all(p.cached for p in batch.predictions),
        },
    )
    if length is None:
        return RawAnswer(content)
    return RawAnswer(
        content,
        b"application/octet-stream",
        ((HEADER_LENGTH.encode(), b"%d" % length),),
    )


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestError(f"parameters.timeout_ms must be a number, got {value!r}")
    return float(value)


def _inputs(model: ResolvedModel, request: InferRequest) -> Inputs:
    if model.kind.input_form == "text":
        texts = [t for t in request.inputs.values() if t.dtype == np.object_]
        if len(texts) != 1:
            raise BadRequestError(
                f"{model.name} is a text model: send one BYTES input of shape [n] or [n, 1] "
                f"(got {sorted(request.inputs)})"
            )
        return TextInputs([_text(v) for v in _rows(texts[0], "text")])
    served = _records_view(model)
    tensors = request.inputs
    if set(tensors) <= set(served.names) and tensors:
        columns = {name: _rows(array, name) for name, array in tensors.items()}
        n = len(next(iter(columns.values())))
        if any(len(c) != n for c in columns.values()):
            raise BadRequestError("feature tensors must all have the same number of rows")
        return RecordInputs(
            [{name: _value(column[i]) for name, column in columns.items()} for i in range(n)]
        )
    unknown = set(tensors) - {"input", "input_str"}
    if unknown:
        raise BadRequestError(
            f"{model.name} takes input (FP32 [n, {len(served.numeric)}]: {served.numeric})"
            + (f" and input_str (BYTES: {served.strings})" if served.strings else "")
            + f", or one tensor per feature {served.names}; unknown inputs {sorted(unknown)}"
        )
    records: list[dict[str, Any]] | None = None
    for tensor, names in (("input", served.numeric), ("input_str", served.strings)):
        if not names:
            continue
        if tensor not in tensors:
            raise BadRequestError(f"{model.name} needs input {tensor!r} with columns {names}")
        array = tensors[tensor]
        if array.ndim != 2 or array.shape[1] != len(names):
            raise BadRequestError(
                f"input {tensor!r} has shape {list(array.shape)}; {model.name} takes "
                f"[n, {len(names)}] with columns {names}"
            )
        if records is None:
            records = [{} for _ in range(array.shape[0])]
        if len(records) != array.shape[0]:
            raise BadRequestError("input and input_str must have the same number of rows")
        for record, row in zip(records, array.tolist(), strict=True):
            record.update(zip(names, (_value(v) for v in row), strict=True))
    return RecordInputs(records or [])


def _records_view(model: ResolvedModel) -> ServedTabular | ServedCausal:
    """What a record of ``model`` carries (names, numeric and string columns); 422 for a
    kind no tensor mapping fits."""
    served = model.served
    if isinstance(served, ServedTabular | ServedCausal):
        return served
    raise InvalidInputError(
        f"{model.name} is a {model.kind.name} model: it ranks one user's candidates, which "
        "the Open Inference Protocol's tensors do not express; POST /predict (or "
        '/api/v1/predict) {"user": {...}, "candidates": [{"id": ..., ...}], "top_k": 10}'
    )


def _rows(array: npt.NDArray[Any], name: str) -> list[Any]:
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise BadRequestError(f"input {name!r} has shape {list(array.shape)}: send [n] or [n, 1]")
    rows: list[Any] = array.tolist()
    return rows


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestError("a BYTES text input is not valid UTF-8") from None
    return str(value)


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN: a missing value
        return None
    return value


def _outputs(
    model: ResolvedModel, batch: PredictionBatch, wanted: list[str]
) -> list[tuple[str, npt.NDArray[Any]]]:
    """The tensors asked for (all of the model's when ``wanted`` is empty), built from the
    answers; only those asked for are built."""
    names = _output_names(model)
    if not wanted:
        wanted = names
    else:
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise BadRequestError(f"unknown outputs {unknown}; {model.name} has {names}")
    predictions = batch.predictions
    return [(name, _output(model, predictions, name)) for name in wanted]


def _output_names(model: ResolvedModel) -> list[str]:
    """The outputs a version answers, in the order an infer request without any gets them."""
    if isinstance(model.served, ServedCausal):
        return ["outcomes", "effects", "next_best_action"]
    task = model.metadata.task
    if task == "regression":
        return ["prediction"]
    if task == "anomaly-detection":
        return ["scores", "label"]
    return ["probabilities", "label"]


def _output(model: ResolvedModel, predictions: Sequence[Prediction], name: str) -> npt.NDArray[Any]:
    """Output ``name`` (one of :func:`_output_names`) of ``predictions``."""
    n = len(predictions)
    served = model.served
    if isinstance(served, ServedCausal):
        if name == "next_best_action":
            return _labels(predictions)
        keys = served.keys
        rows = [[(p.details or {})[name][k] for k in keys] for p in predictions]
        return np.array(rows, dtype=np.float64).reshape(n, len(keys))
    task = model.metadata.task
    if task == "regression":
        return np.array(
            [p.value if isinstance(p.value, list) else [p.value] for p in predictions],
            dtype=np.float64,
        ).reshape(n, -1)
    if task == "anomaly-detection":
        if name == "scores":
            return np.array([[p.score] for p in predictions], dtype=np.float64)
        return np.array([[p.value] for p in predictions], dtype=np.int64)
    if name == "label":
        return _labels(predictions)
    labels = model.metadata.labels
    return np.array(
        [[(p.probabilities or {}).get(label, 0.0) for label in labels] for p in predictions],
        dtype=np.float32,
    ).reshape(n, len(labels))


def _labels(predictions: Sequence[Prediction]) -> npt.NDArray[Any]:
    return np.array([[(p.label or "").encode()] for p in predictions], dtype=np.object_)


def _tensor_specs(model: ResolvedModel) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inputs and outputs of a version as the protocol's metadata lists them."""
    task = model.metadata.task
    if model.kind.input_form == "text":
        inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1, 1]}]
    else:
        served = _records_view(model)
        inputs = []
        if served.numeric:
            inputs.append(
                {
                    "name": "input",
                    "datatype": served.numeric_datatype,
                    "shape": [-1, len(served.numeric)],
                }
            )
        if served.strings:
            inputs.append(
                {"name": "input_str", "datatype": "BYTES", "shape": [-1, len(served.strings)]}
            )
    if isinstance(model.served, ServedCausal):
        actions = len(model.served.keys)
        outputs = [
            {"name": "outcomes", "datatype": "FP64", "shape": [-1, actions]},
            {"name": "effects", "datatype": "FP64", "shape": [-1, actions]},
            {"name": "next_best_action", "datatype": "BYTES", "shape": [-1, 1]},
        ]
    elif task == "regression":
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1, -1]}]
    elif task == "anomaly-detection":
        outputs = [
            {"name": "scores", "datatype": "FP64", "shape": [-1, 1]},
            {"name": "label", "datatype": "INT64", "shape": [-1, 1]},
        ]
    else:
        classes = len(model.metadata.labels)
        outputs = [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, classes]},
            {"name": "label", "datatype": "BYTES", "shape": [-1, 1]},
        ]
    return inputs, outputs


async def _model(stack: ServingStack, name: str, version: int | None) -> ResolvedModel:
    return await stack.router.registry.resolve(name, version)


@router.get("")
async def server_metadata() -> ServerMetadata:
    """Server metadata."""
    return ServerMetadata(name="mlserve", version=__version__, extensions=["binary_tensor_data"])


@router.get("/health/live")
async def live() -> dict[str, Any]:
    """The control plane is up."""
    return {"live": True}


@router.get("/health/ready", responses=error_responses(503))
async def ready(request: Request) -> Response:
    """Ready when Triton is (200), else 503."""
    up = await stack_of(request).triton.server_ready()
    return json_response({"ready": up}, status_code=200 if up else 503)


@router.get("/models/{name}", responses=_ON_MODEL)
@router.get("/models/{name}/versions/{version}", responses=_ON_MODEL)
async def model_metadata(request: Request, name: str, version: int | None = None) -> ModelMetadata:
    """A model's (or version's) metadata: versions, platform, input and output tensors."""
    stack = stack_of(request)
    model = await _model(stack, name, version)
    inputs, outputs = _tensor_specs(model)
    return ModelMetadata.model_validate(
        {
            "name": name,
            "versions": [str(v) for v in stack.router.registry.published(name)[1]],
            "platform": f"mlserve_{model.kind.name}",
            "inputs": inputs,
            "outputs": outputs,
        }
    )


@router.get("/models/{name}/ready", responses=_ON_MODEL)
@router.get("/models/{name}/versions/{version}/ready", responses=_ON_MODEL)
async def model_ready(request: Request, name: str, version: int | None = None) -> Response:
    """200 when the model (version) can answer now, else the reason (404, 409, 503)."""
    await _model(stack_of(request), name, version)
    return json_response({"name": name, "ready": True})


@router.get("/models/{name}/config", responses=_ON_MODEL)
@router.get("/models/{name}/versions/{version}/config", responses=_ON_MODEL)
async def model_config(request: Request, name: str, version: int | None = None) -> dict[str, Any]:
    """The model's configuration as Triton describes one (what perf_analyzer reads)."""
    stack = stack_of(request)
    model = await _model(stack, name, version)
    inputs, outputs = _tensor_specs(model)

    def config_tensor(spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": spec["name"],
            "data_type": _TYPES[spec["datatype"]],
            "dims": [d for d in spec["shape"][1:]],
        }

    return {
        "name": name,
        "platform": f"mlserve_{model.kind.name}",
        "backend": "mlserve",
        "max_batch_size": stack.settings.max_batch_texts,
        "input": [config_tensor(s) for s in inputs],
        "output": [config_tensor(s) for s in outputs],
    }


@router.get("/models/{name}/stats", responses=error_responses(404, 409, 422, 502, 503))
@router.get(
    "/models/{name}/versions/{version}/stats", responses=error_responses(404, 409, 422, 502, 503)
)
async def model_stats(request: Request, name: str, version: int | None = None) -> dict[str, Any]:
    """Triton's statistics of the model (queue and compute times), as Triton reports them."""
    stack = stack_of(request)
    await _model(stack, name, version)
    return await stack.triton.statistics(name)


_INFER_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": inline_schema(InferRequestDoc)},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
            },
        },
    }
}


@router.post(
    "/models/{name}/infer",
    responses={**_ON_INFER, 200: {"model": InferResponse}},
    openapi_extra=_INFER_DOC,
)
@router.post(
    "/models/{name}/versions/{version}/infer",
    responses={**_ON_INFER, 200: {"model": InferResponse}},
    openapi_extra=_INFER_DOC,
)
async def infer(request: Request, name: str, version: int | None = None) -> Response:
    """Run an infer request (JSON tensors or the binary tensor data extension)."""
    answer = await infer_answer(
        stack_of(request), request.url.path, await request.body(), request.headers.raw
    )
    return Response(
        answer.body,
        media_type=answer.content_type.decode(),
        headers={k.decode(): v.decode() for k, v in answer.headers},
    )
