"""Tree thresholds read from fitted boosters (the parity set's rows at each split)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from mlserve.converters.tabular.threshold_rows import _booster_frame, _xgboost_splits


def fitted(frame: bool) -> xgb.XGBClassifier:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 5))
    y = (x[:, 0] + x[:, 3] > 0).astype(int)
    data = pd.DataFrame(x, columns=[f"col {i}" for i in range(5)]) if frame else x
    return xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(data, y)


def test_xgboost_splits_from_json_are_the_dumps_splits_at_float32() -> None:
    for frame in (False, True):
        model = fitted(frame)
        from_json = _xgboost_splits(model.get_booster())
        dump = model.get_booster().trees_to_dataframe()
        splits = dump[dump["Feature"] != "Leaf"]
        names = list(model.get_booster().feature_names or [])
        from_dump = {
            (names.index(f) if names else int(str(f).lstrip("f")), float(np.float32(t)))
            for f, t in zip(splits["Feature"], splits["Split"], strict=True)
        }
        assert from_json is not None
        assert {(c, float(np.float32(t))) for c, t in from_json} == from_dump
        assert all(float(np.float32(t)) == t for _, t in from_json)  # exact float32 values
        assert _booster_frame(model) == from_json


def test_an_unreadable_model_json_gives_none() -> None:
    class Odd:
        def save_raw(self, raw_format: str) -> bytearray:
            return bytearray(b'{"learner": {}}')

    assert _xgboost_splits(Odd()) is None
