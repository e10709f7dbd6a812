"""mlserve: text and tabular classifiers exported to ONNX and served by NVIDIA Triton."""

__version__ = "0.1.0"
