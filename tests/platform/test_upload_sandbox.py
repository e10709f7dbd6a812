"""F2/F10: uploads are loaded only in a confined child process, under a class-only allowlist,
with the decompressed size bounded; nothing with side effects runs, nothing comes back
but JSON and ONNX bytes."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlserve.errors import ConversionError, PayloadTooLargeError
from mlserve.platform.upload_sandbox import SandboxSettings, UploadSandbox


class CallOnLoad:
    """Pickles as ``func(*args)``: what a hostile upload does."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def hostile(func: Any, *args: Any) -> bytes:
    return pickle.dumps(CallOnLoad(func, *args), protocol=4)


def stack_global_call(module: str, name: str, *args: Any) -> bytes:
    """A pickle calling ``module.name(*args)`` with ``name`` as a dotted attribute path
    (protocol 4's STACK_GLOBAL resolves ``DataFrame.to_csv`` by getattr), as in the probe."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return b"\x8c" + bytes([len(raw)]) + raw

    body = pickle.dumps(args, protocol=3)[2:-1]
    return b"\x80\x04" + text(module) + text(name) + b"\x93" + body + b"R."


def logistic_regression_file() -> bytes:
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> UploadSandbox:
    return UploadSandbox(scratch_dir=tmp_path_factory.mktemp("scratch"))


def test_f2_a_to_csv_pickle_is_refused_and_writes_no_file(
    sandbox: UploadSandbox, tmp_path: Path
) -> None:
    target = tmp_path / "written-during-screening.csv"
    frame = pd.DataFrame({"a": [1]})
    payload = stack_global_call("pandas.core.frame", "DataFrame.to_csv", frame, str(target))
    with pytest.raises(ConversionError) as refused:
        sandbox.screen(payload)
    assert "'pandas.core.frame.DataFrame.to_csv'" in refused.value.message
    assert "skops" in refused.value.message
    assert not target.exists()
    with pytest.raises(ConversionError, match=r"NDFrame\.to_csv"):
        sandbox.screen(hostile(pd.DataFrame.to_csv, frame, str(target)))
    assert not target.exists()


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (np.save, ("{target}", np.zeros(2))),
        (np.savetxt, ("{target}", np.zeros(2))),
        (pd.DataFrame.to_pickle, (pd.DataFrame({"a": [1]}), "{target}")),
        (np.ndarray.tofile, (np.zeros(2), "{target}")),
    ],
    ids=["numpy.save", "numpy.savetxt", "DataFrame.to_pickle", "ndarray.tofile"],
)
def test_writers_of_numpy_and_pandas_are_refused(
    sandbox: UploadSandbox, tmp_path: Path, func: Any, args: tuple[Any, ...]
) -> None:
    target = tmp_path / "out.bin"
    filled = tuple(str(target) if isinstance(a, str) else a for a in args)
    with pytest.raises(ConversionError, match="model file refused"):
        sandbox.screen(hostile(func, *filled))
    assert not target.exists()


def test_f10_a_small_zlib_file_decompressing_to_512_mib_is_refused_without_memory_growth(
    sandbox: UploadSandbox,
) -> None:
    buffer = io.BytesIO()
    joblib.dump(np.zeros(64 * 1024 * 1024), buffer, compress=("zlib", 9))
    payload = buffer.getvalue()
    assert len(payload) < 1_000_000
    before = _rss_bytes()
    with pytest.raises(PayloadTooLargeError, match="decompresses to more than 400000000 bytes"):
        sandbox.screen(payload)
    assert _rss_bytes() - before < 50 * 1024 * 1024


def test_a_memory_bomb_hits_the_childs_memory_limit(tmp_path: Path) -> None:
    small = UploadSandbox(SandboxSettings(memory_bytes=1024**3), scratch_dir=tmp_path)
    payload = pickle.dumps(CallOnLoad(bytearray, 8 * 1024**3), protocol=4)
    with pytest.raises(PayloadTooLargeError, match="UPLOAD_MEMORY_BYTES"):
        small.screen(payload)


def test_a_plain_pickle_stream_is_bounded_too(tmp_path: Path) -> None:
    tight = UploadSandbox(SandboxSettings(max_decompressed_bytes=1000), scratch_dir=tmp_path)
    with pytest.raises(PayloadTooLargeError, match="more than 1000 bytes"):
        tight.screen(pickle.dumps(np.zeros(1000)))


def test_a_fitted_model_is_screened_and_exported_as_onnx(sandbox: UploadSandbox) -> None:
    assert sandbox.screen(logistic_regression_file()).endswith("LogisticRegression")
    lines: list[str] = []
    exported = sandbox.export(
        logistic_regression_file(),
        name="credit",
        features=["age", "income"],
        background=[{"age": float(i), "income": 1.0} for i in range(10)],
        metrics={"accuracy": 0.9},
        task_type="classification",
        log=lines.append,
    )
    assert exported.parity.passed
    assert exported.features == ["age", "income"]
    assert exported.metrics["accuracy"] == 0.9
    assert [spec.name for spec in exported.inputs]
    assert any("network_namespace" in line and "audit_hook" in line for line in lines)


def test_skops_files_are_accepted_and_their_types_screened(
    sandbox: UploadSandbox, tmp_path: Path
) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
    assert sandbox.screen(sio.dumps(model)).endswith("LogisticRegression")
    hostile_skops = sio.dumps(FunctionTransformer(func=np.save))
    with pytest.raises(ConversionError, match=r"numpy\.save"):
        sandbox.screen(hostile_skops)


def test_garbage_and_non_models_are_400_with_the_skops_hint(sandbox: UploadSandbox) -> None:
    with pytest.raises(ConversionError, match=r"not a readable joblib/pickle file.*skops"):
        sandbox.screen(b"\x80\x04garbage" * 20)
    with pytest.raises(ConversionError, match="holds a dict, not a model"):
        sandbox.screen(pickle.dumps({"a": 1}))
    with pytest.raises(ConversionError, match="empty"):
        sandbox.screen(b"")


CONFINED = """
import os, socket, sys
from pathlib import Path
from mlserve.platform.sandbox_confinement import Limits, confine
private = Path(sys.argv[1])
enforced = confine(private, Limits(memory_bytes=2 * 1024**3, cpu_seconds=30, file_bytes=10**6))
(private / "inside.txt").write_text("allowed")
outcomes = []
for name, attempt in [
    ("write", lambda: open(sys.argv[2], "w")),
    ("socket", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=1)),
    ("system", lambda: os.system("true")),
    ("remove", lambda: os.remove(sys.argv[4])),
]:
    try:
        attempt()
        outcomes.append(name + ":ran")
    except PermissionError:
        outcomes.append(name + ":refused")
print(enforced["network_namespace"], " ".join(outcomes))
"""


def test_the_child_cannot_write_outside_connect_or_start_processes(tmp_path: Path) -> None:
    import socket

    private, outside = tmp_path / "private", tmp_path / "outside.txt"
    private.mkdir()
    keep = tmp_path / "keep.txt"
    keep.write_text("x")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-c", CONFINED, str(private), str(outside), str(port), str(keep)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    namespace, outcomes = run.stdout.strip().split(" ", 1)
    assert outcomes == "write:refused socket:refused system:refused remove:refused"
    assert namespace == str(namespaces_allowed())
    assert (private / "inside.txt").read_text() == "allowed"
    assert not outside.exists()
    assert keep.exists()


def namespaces_allowed() -> bool:
    """Whether this kernel lets an unprivileged process unshare a network namespace."""
    probe = "import ctypes; print(ctypes.CDLL(None).unshare(0x10000000 | 0x40000000) == 0)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return run.stdout.strip() == "True"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
