"""The tabular samples: an iris-style species classifier and seed S4's heuristic rules.

The data is generated (no download): three species whose four measurements follow the
means and spreads of Fisher's iris data, so the published models answer seed S4's
request (``{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
"petal_width": 0.2}`` is a setosa) and their accuracy means something.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlserve.converters.base import ExportedModel

IRIS_NAME = "iris"
RULES_NAME = "iris-rules"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SPECIES = ["setosa", "versicolor", "virginica"]
RULES_FILE = Path(__file__).with_name("iris_rules.py")
_MEANS = np.array([[5.01, 3.43, 1.46, 0.25], [5.94, 2.77, 4.26, 1.33], [6.59, 2.97, 5.55, 2.03]])
_SPREADS = np.array([[0.35, 0.38, 0.17, 0.11], [0.52, 0.31, 0.47, 0.20], [0.64, 0.32, 0.55, 0.27]])


def generate(n_per_species: int = 200, seed: int = 11) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Rows of the four measurements (cm, 1 decimal) and their species."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for index, species in enumerate(SPECIES):
        block = rng.normal(_MEANS[index], _SPREADS[index], size=(n_per_species, 4))
        rows.append(np.clip(block, 0.1, None).round(1))
        labels += [species] * n_per_species
    return np.vstack(rows), labels


def records(rows: np.ndarray[Any, Any]) -> list[dict[str, float | None]]:
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]


def train_iris() -> ExportedModel:
    """A decision tree (depth 4) on the generated data, exported with parity on held-out rows."""
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    from mlserve.converters.loading import export_native_model

    rows, labels = generate()
    train_x, test_x, train_y, test_y = train_test_split(
        rows, labels, test_size=0.25, random_state=3, stratify=labels
    )
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(train_x, train_y)
    accuracy = float(tree.score(test_x, test_y))
    exported = export_native_model(
        tree,
        name=IRIS_NAME,
        features=FEATURES,
        background=records(test_x),
        metrics={"accuracy": round(accuracy, 4)},
    )
    exported.training = {"dataset": "mlserve.samples.iris (generated, seed 11)", "n_train": 450}
    return exported


def rules_model() -> ExportedModel:
    """Seed S4's heuristic as a custom Python version, its accuracy measured on the data."""
    from mlserve.converters.custom_python import export_custom_python

    rows, labels = generate()
    background = records(rows[::4])
    exported = export_custom_python(RULES_FILE, background=background)
    from mlserve.samples.iris_rules import HeuristicClassifier

    predicted = HeuristicClassifier().predict(records(rows))
    accuracy = sum(p == t for p, t in zip(predicted, labels, strict=True)) / len(labels)
    exported.metrics = {"accuracy": round(accuracy, 4)}
    return exported
