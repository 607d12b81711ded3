"""The stability classifier follows the scikit-learn estimator contract and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from matching.stability.estimator import StabilityClassifier


@parametrize_with_checks([StabilityClassifier(max_iter=20, cv=3)])
def test_estimator_contract(estimator, check):
    check(estimator)


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    p = 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1] - 1.0)))
    y = (rng.random(n) < p).astype(int)
    return X, y, rng.integers(0, n // 3, n)


def test_same_seed_same_predictions():
    X, y, g = _data(1)
    a = StabilityClassifier(max_iter=50, random_state=3).fit(X, y, groups=g).predict_proba(X)
    b = StabilityClassifier(max_iter=50, random_state=3).fit(X, y, groups=g).predict_proba(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid"])
def test_calibrated_on_held_out_data(calibration):
    X, y, g = _data(2, 8000)
    model = StabilityClassifier(max_iter=60, learning_rate=0.1, calibration=calibration).fit(
        X[:6000], y[:6000], groups=g[:6000]
    )
    p = model.predict_proba(X[6000:])[:, 1]
    # Observed rate in each fifth of the predictions is close to the predicted mean.
    order = np.argsort(p)
    for part in np.array_split(order, 5):
        assert abs(p[part].mean() - y[6000:][part].mean()) < 0.06


def test_refuses_more_than_two_classes():
    X, _, _ = _data(3, 300)
    with pytest.raises(ValueError, match="Only binary"):
        StabilityClassifier(max_iter=5).fit(X, np.arange(300) % 3)
