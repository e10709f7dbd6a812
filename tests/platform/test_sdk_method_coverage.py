"""Every public method of the published ``mlserve-sdk`` 0.4.0 client is driven against a
real stack by the end-to-end tests (issue 21's "done when").

The calls themselves run in ``test_sdk_end_to_end.py``, ``test_sdk_contract_calls.py`` and
``test_sdk_decisions_end_to_end.py``; this test reads those modules and fails when the
client gains a method no test calls, or a test stops calling one, so the claim cannot
silently rot. (``deploy(model_path=...)`` sends a closed file in 0.4.0: the end-to-end test
sends that upload correctly with raw requests and says so.)
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from mlserve_sdk.client import MLServeClient

DRIVERS = [
    "test_sdk_end_to_end.py",
    "test_sdk_contract_calls.py",
    "test_sdk_decisions_end_to_end.py",
]


def public_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(MLServeClient, inspect.isfunction)
        if not name.startswith("_")
    }


NOT_CLIENTS = {"np", "pd", "rng", "model", "models", "requests", "httpx", "json"}
"""Receivers whose ``.predict(...)`` and the like are not the client's."""


def called_methods(path: Path) -> set[str]:
    """Names of every ``<variable>.<name>(...)`` call in the module whose variable can be a
    client (``admin``, ``client``, ``anonymous``, ...)."""
    tree = ast.parse(path.read_text())
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id not in NOT_CLIENTS
    }


def test_every_method_of_the_client_is_driven_end_to_end() -> None:
    methods = public_methods()
    assert len(methods) == 37, sorted(methods)
    here = Path(__file__).parent
    called: set[str] = set()
    for name in DRIVERS:
        called |= called_methods(here / name)
    assert methods - called == set()
