"""Export native models to ONNX, check parity, and describe them for publishing."""

from mlserve.converters.base import ExportedModel, ParityReport, compare_outputs

__all__ = ["ExportedModel", "ParityReport", "compare_outputs"]
