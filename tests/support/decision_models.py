"""Small decision models for the causal and recommender tests: real scikit-learn estimators
trained on synthetic data whose best action (or best item) depends on the features."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

OFFERS = [0, 1, 2]
"""The causal model's actions: no offer, a discount, a premium upgrade."""
CAUSAL_OPTIONS = {"task": "causal", "action": "offer", "actions": OFFERS, "baseline": 0}
USER_FEATURES = ["age", "budget"]
ITEM_FEATURES = ["price", "premium"]
RECOMMENDER_OPTIONS = {
    "task": "recommender",
    "user_features": USER_FEATURES,
    "item_features": ITEM_FEATURES,
    "item_id": "item_id",
}


def causal_frame(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Customers (age, income) with the offer they got and the spend that followed: a
    discount pays for high incomes, the premium upgrade for older customers."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(18, 70, n).round(1),
            "income": rng.uniform(1, 10, n).round(2),
            "offer": rng.integers(0, 3, n).astype(float),
        }
    )
    spend = np.where(
        frame.offer == 1,
        frame.income * 0.5,
        np.where(frame.offer == 2, (frame.age - 40) * 0.08 + 1.0, 0.8),
    ) + rng.normal(0, 0.05, n)
    return frame, spend


def causal_model() -> tuple[GradientBoostingRegressor, pd.DataFrame]:
    """The fitted outcome model ``spend = f(age, income, offer)`` and background rows."""
    frame, spend = causal_frame()
    model = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=0)
    model.fit(frame, spend)
    return model, frame.sample(200, random_state=1).reset_index(drop=True)


def causal_task_type(**overrides: Any) -> str:
    """The JSON ``task_type`` the 0.4.0 client sends for the causal model."""
    return json.dumps({**CAUSAL_OPTIONS, **overrides})


def native_outcomes(model: Any, rows: list[dict[str, float]]) -> np.ndarray[Any, Any]:
    """``[rows, actions]``: the native estimator's outcome of each row under each action."""
    frame = pd.DataFrame([{**row, "offer": float(a)} for row in rows for a in OFFERS])
    return np.asarray(model.predict(frame[["age", "income", "offer"]])).reshape(
        len(rows), len(OFFERS)
    )


def recommender_model() -> tuple[GradientBoostingClassifier, pd.DataFrame]:
    """A click model over (user, item) rows: users click items within their budget, older
    users premium items; and background rows."""
    rng = np.random.default_rng(3)
    n = 1200
    frame = pd.DataFrame(
        {
            "age": rng.uniform(18, 70, n).round(1),
            "budget": rng.uniform(10, 200, n).round(1),
            "price": rng.uniform(5, 250, n).round(1),
            "premium": rng.integers(0, 2, n).astype(float),
        }
    )
    logit = (frame.budget - frame.price) / 30 + (frame.age - 45) / 15 * frame.premium
    clicked = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=0)
    model.fit(frame, clicked)
    return model, frame.sample(200, random_state=1).reset_index(drop=True)


def native_scores(
    model: Any, user: dict[str, float], candidates: list[dict[str, Any]]
) -> np.ndarray[Any, Any]:
    """The native click probability of each candidate for ``user``."""
    frame = pd.DataFrame([{**user, **{f: c[f] for f in ITEM_FEATURES}} for c in candidates])[
        USER_FEATURES + ITEM_FEATURES
    ]
    return np.asarray(model.predict_proba(frame))[:, 1]


CHANNELS = ["none", "email", "call"]


def channel_model() -> tuple[Any, pd.DataFrame]:
    """A binary conversion classifier over (age, channel) with a categorical action: calls
    convert older customers, e-mails younger ones; and background rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(5)
    n = 800
    frame = pd.DataFrame(
        {"age": rng.uniform(18, 70, n).round(1), "channel": rng.choice(CHANNELS, n)}
    )
    share = (frame.age - 18) / 52
    chance = np.where(
        frame.channel == "call", share, np.where(frame.channel == "email", 1 - share, 0.3)
    )
    converted = (rng.random(n) < chance).astype(int)
    encode = ColumnTransformer([("channel", OneHotEncoder(), ["channel"])], remainder="passthrough")
    model = Pipeline(
        [("encode", encode), ("fit", GradientBoostingClassifier(n_estimators=40, max_depth=2))]
    )
    model.fit(frame, converted)
    return model, frame.sample(200, random_state=1).reset_index(drop=True)
