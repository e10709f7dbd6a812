"""The kinds of model mlserve serves, one module each, registered in :data:`KINDS`.

Adding a kind (a policy, a ranker, ...) is one module defining a
:class:`~mlserve.kinds.base.ModelKind` and one line below. The data plane looks the kind
up from the ``input_kind`` in a version's metadata; nothing else in the serving path
branches on kinds.
"""

from __future__ import annotations

from mlserve.errors import MLServeError
from mlserve.kinds.base import (
    Inputs,
    ModelKind,
    RankingInputs,
    RecordInputs,
    ServedModel,
    TextInputs,
)
from mlserve.kinds.causal import CAUSAL_KIND
from mlserve.kinds.custom import CUSTOM
from mlserve.kinds.recommender import RECOMMENDER_KIND
from mlserve.kinds.tabular import TABULAR
from mlserve.kinds.text import TEXT, TOKENS

KINDS: dict[str, ModelKind] = {
    kind.name: kind for kind in (TEXT, TOKENS, TABULAR, CUSTOM, CAUSAL_KIND, RECOMMENDER_KIND)
}
"""Every kind, by the ``input_kind`` name its versions' metadata carries."""


def kind_named(name: str) -> ModelKind:
    """The kind registered as ``name``; MLServeError (500: a repository this server cannot
    serve) for an unknown one."""
    kind = KINDS.get(name)
    if kind is None:
        raise MLServeError(
            f"model kind {name!r} is not known to this server (known: {', '.join(KINDS)}); "
            "upgrade mlserve or republish the model"
        )
    return kind


__all__ = [
    "KINDS",
    "Inputs",
    "ModelKind",
    "RankingInputs",
    "RecordInputs",
    "ServedModel",
    "TextInputs",
    "kind_named",
]
