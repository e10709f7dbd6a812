"""Seed S4's heuristic: iris species from petal size, by rules found in exploratory analysis.

A custom Python model as a user writes one: ``FEATURES``, ``LABELS`` and a class whose
``predict(records)`` answers one label per record. ``mlserve up`` publishes it as the
sample ``iris-rules`` (``mlserve load mlserve/samples/iris_rules.py --name iris-rules``).
"""

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABELS = ["setosa", "versicolor", "virginica"]


class HeuristicClassifier:
    """Setosa has short petals; virginica wide ones; versicolor is in between."""

    def predict(self, records: list[dict[str, float | None]]) -> list[str]:
        return [self._species(record) for record in records]

    @staticmethod
    def _species(record: dict[str, float | None]) -> str:
        petal_length = record["petal_length"] or 0.0
        petal_width = record["petal_width"] or 0.0
        if petal_length < 2.5:
            return "setosa"
        if petal_width < 1.75:
            return "versicolor"
        return "virginica"
