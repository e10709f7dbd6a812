"""The Open Inference Protocol's documents, as OpenAPI shows them (KServe v2 REST).

The infer route decodes bodies itself (:mod:`mlserve.control_plane.open_inference`, also
for the binary tensor data extension); these models document the JSON forms and type the
metadata answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TensorParameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    binary_data_size: int | None = Field(
        default=None, description="Bytes of this tensor after the JSON header (binary data)."
    )
    binary_data: bool | None = Field(default=None, description="Answer this output in binary.")


class InputTensor(BaseModel):
    name: str = Field(
        description="`text` (any name) for text models; `input`/`input_str` or a "
        "feature name for tabular ones."
    )
    datatype: str = Field(examples=["FP32", "BYTES"])
    shape: list[int] = Field(examples=[[1, 4]])
    data: list[Any] | None = Field(default=None, description="Row-major values.")
    parameters: TensorParameters | None = None


class RequestedOutput(BaseModel):
    name: str = Field(examples=["label", "probabilities", "prediction", "scores"])
    parameters: TensorParameters | None = None


class InferRequest(BaseModel):
    """An infer request (JSON form; with binary data the header carries its length)."""

    id: str | None = None
    inputs: list[InputTensor]
    outputs: list[RequestedOutput] | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="`timeout_ms`, `binary_data_output`."
    )


class OutputTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any] | None = None
    parameters: dict[str, Any] | None = None


class InferResponse(BaseModel):
    """An infer answer (JSON form); ``parameters`` says ``routed_by`` and ``cached``."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[OutputTensor]
    parameters: dict[str, Any] | None = None


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]
