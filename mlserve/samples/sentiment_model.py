"""The sample ``sentiment`` model: TF-IDF pipelines trained on the generated dataset.

``mlserve up`` publishes v1 (TF-IDF + logistic regression) and v2 (word and character
n-grams + calibrated linear SVM) on an empty repository, so a new user has two versions to
compare and route between. Training takes about a second.
"""

from __future__ import annotations

from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.converters.sklearn_text import export_text_pipeline
from mlserve.samples.sentiment_data import Dataset, generate

SAMPLE_NAME = "sentiment"


def build_pipeline(version: int) -> Any:
    """An unfitted pipeline; odd versions use logistic regression, even ones a linear SVM
    (served through calibrated probabilities)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    if version % 2 == 1:
        return Pipeline(
            [
                ("tfidf", TfidfVectorizer()),
                ("clf", LogisticRegression(max_iter=1000, C=5.0)),
            ]
        )
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(min_df=2)),
            ("clf", CalibratedClassifierCV(LinearSVC(C=0.5), cv=3)),
        ]
    )


def train_sentiment(version: int = 1, *, data: Dataset | None = None) -> ExportedModel:
    """Train, evaluate on the held-out split and export one version of the sample model."""
    data = data or generate()
    pipeline = build_pipeline(version)
    pipeline.fit(data.train_texts, data.train_labels)
    accuracy = float(pipeline.score(data.test_texts, data.test_labels))
    return export_text_pipeline(
        pipeline,
        data.test_texts,
        metrics={"accuracy": round(accuracy, 4)},
        training={
            "dataset": "mlserve.samples.sentiment_data (generated, seed 7)",
            "n_train": len(data.train_texts),
            "n_test": len(data.test_texts),
        },
    )
