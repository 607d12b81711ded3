"""The stability classifiers: gradient boosting calibrated on out-of-fold predictions, and a logistic one.

A scikit-learn estimator (``get_params``/``set_params``, ``fit``/``predict_proba``, checked
with ``parametrize_with_checks``).  It fits a histogram gradient-boosting model, calibrates it
on out-of-fold predictions made with folds that keep each child's placements together (pass
``groups``), then refits the boosting model on all the data.  Prediction is one boosted model
and one calibration map: fast enough to score tens of thousands of pairs per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

#: From this many rows a prediction uses every OpenMP thread; fewer are scored on one.
_PARALLEL_ROWS = 5_000
_THREADS = ThreadpoolController()
_EPS = 1e-4


class _BinaryOutcome(ClassifierMixin, BaseEstimator):
    """What the stability classifiers share: a binary target, missing values allowed, folds by child."""

    random_state: int

    def __sklearn_tags__(self) -> Any:
        """Binary only; missing values are allowed."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    def _fit_input(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validated features, the columns unknown in every row (left out of training: no history), and the
        outcome as class positions (``classes_`` set)."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        target = type_of_target(y, raise_unknown=True)
        if target != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {target}.")
        blank = np.isnan(X).all(axis=0) if len(X) else np.zeros(X.shape[1], dtype=bool)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        return X, blank, y_idx

    def _folds(self, folds: int, groups: Any) -> Any:
        """Inner folds keeping each child's placements together when ``groups`` is given."""
        if groups is not None and len(np.unique(groups)) >= 2:
            return GroupKFold(n_splits=min(folds, len(np.unique(groups))))
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class."""
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(int)])


class StabilityClassifier(_BinaryOutcome):
    """Binary classifier of an unplanned ending within 12 months, with calibrated probabilities.

    Parameters are those of the boosting model plus ``calibration`` (``"isotonic"`` or
    ``"sigmoid"``), ``cv`` (folds for the out-of-fold calibration) and ``categorical`` (column
    positions holding integer category codes).
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.4,
        max_iter: int = 20,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        calibration: str = "isotonic",
        cv: int = 5,
        categorical: tuple[int, ...] = (),
        random_state: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.categorical = categorical
        self.random_state = random_state

    def _booster(self, n_samples: int) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=max(1, min(self.min_samples_leaf, n_samples // 4)),
            l2_regularization=self.l2_regularization,
            categorical_features=list(self.categorical) or None,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(self, X: Any, y: Any, groups: Any = None) -> Self:
        """Fit on features ``X`` and 0/1 outcomes ``y``; ``groups`` keeps each child in one fold."""
        X, blank, y_idx = self._fit_input(X, y)
        # A feature unknown in every row is fitted as a constant, which the boosting never splits on;
        # whatever it holds when scoring then changes nothing.
        if blank.any():
            X = np.where(blank, 0.0, X)
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', not {self.calibration!r}")
        n = len(y_idx)
        folds = int(min(self.cv, np.bincount(y_idx).min()))
        booster = self._booster(n)
        if folds >= 2:
            splitter = self._folds(folds, groups)
            oof = cross_val_predict(booster, X, y_idx, cv=splitter, groups=groups, method="predict_proba")[:, 1]
        else:
            oof = booster.fit(X, y_idx).predict_proba(X)[:, 1]
        self.calibrator_ = self._calibrator(oof, y_idx)
        self.booster_ = self._booster(n).fit(X, y_idx)
        self.n_iter_ = self.booster_.n_iter_
        return self

    def _calibrator(self, scores: np.ndarray, y: np.ndarray) -> Any:
        if self.calibration == "isotonic":
            return IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(scores, y)
        logit = np.log(np.clip(scores, _EPS, 1 - _EPS) / (1 - np.clip(scores, _EPS, 1 - _EPS)))
        return LogisticRegression(C=1e6).fit(logit[:, None], y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities of each class (column 1: an unplanned ending within 12 months)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        p = self._calibrated(self.booster_.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])

    def predict_unplanned(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) for a numeric feature matrix built by this package (columns in the fitted order):
        the same numbers as ``predict_proba(X)[:, 1]`` without re-validating the input per call."""
        check_is_fitted(self)
        if len(X) >= _PARALLEL_ROWS:
            return self._calibrated(self.booster_.predict_proba(X)[:, 1])
        # A request scores a few dozen pairs: OpenMP threads only contend with the other requests (measured under
        # load: 243 ms a ranking with them, 21 ms without).
        with _THREADS.limit(limits=1, user_api="openmp"):
            return self._calibrated(self.booster_.predict_proba(X)[:, 1])

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        if self.calibration == "isotonic":
            p = self.calibrator_.predict(raw)
        else:
            logit = np.log(np.clip(raw, _EPS, 1 - _EPS) / (1 - np.clip(raw, _EPS, 1 - _EPS)))
            p = self.calibrator_.predict_proba(logit[:, None])[:, 1]
        return np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)


class LogisticStabilityClassifier(_BinaryOutcome):
    """Regularised logistic regression of an unplanned ending within 12 months: the simple learner to beat.

    Missing values are imputed with the training median and flagged in indicator columns; every column
    is standardised; the penalty is L2.  ``C`` (inverse penalty strength) is chosen from ``Cs`` by the
    log loss of an inner cross-validation (folds keep each child's placements together when ``groups``
    is given) unless ``C`` is fixed.  Its probabilities come straight from the fitted log loss, with no
    separate calibration step.
    """

    def __init__(
        self,
        *,
        C: float | None = None,
        Cs: tuple[float, ...] = (0.01, 0.1, 1.0),
        cv: int = 3,
        max_iter: int = 500,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state

    def _pipeline(self, C: float) -> Any:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=C, max_iter=self.max_iter),
        )

    def fit(self, X: Any, y: Any, groups: Any = None) -> Self:
        """Fit on features ``X`` and 0/1 outcomes ``y``; ``groups`` keeps each child in one inner fold."""
        from sklearn.metrics import log_loss

        X, self.blank_, y_idx = self._fit_input(X, y)
        # As for the boosting: a feature unknown in every training row is a constant, whatever it holds later.
        X = self._blanked(X)
        folds = int(min(self.cv, np.bincount(y_idx).min()))
        if self.C is not None or len(self.Cs) == 1 or folds < 2:
            self.C_ = float(self.C if self.C is not None else self.Cs[0])
            self.cv_log_loss_: dict[float, float] = {}
        else:
            splitter = self._folds(folds, groups)
            losses = {}
            for c in self.Cs:
                oof = cross_val_predict(self._pipeline(c), X, y_idx, cv=splitter, groups=groups, method="predict_proba")
                losses[float(c)] = float(log_loss(y_idx, oof[:, 1], labels=[0, 1]))
            self.cv_log_loss_ = losses
            self.C_ = min(losses, key=lambda c: (losses[c], c))
        self.pipeline_ = self._pipeline(self.C_).fit(X, y_idx)
        self.n_iter_ = int(np.max(self.pipeline_[-1].n_iter_))
        return self

    def _blanked(self, X: np.ndarray) -> np.ndarray:
        return np.where(self.blank_, 0.0, X) if self.blank_.any() else X

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each class (column 1: an unplanned ending within 12 months)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        p = np.clip(self.pipeline_.predict_proba(self._blanked(X))[:, 1], _EPS, 1 - _EPS)
        return np.column_stack([1 - p, p])

    def predict_unplanned(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) for a numeric feature matrix built by this package (columns in the fitted order)."""
        check_is_fitted(self)
        p = self.pipeline_.predict_proba(self._blanked(np.asarray(X, dtype=np.float64)))[:, 1]
        return np.clip(p, _EPS, 1 - _EPS)


@dataclass(frozen=True)
class Learner:
    """A learner ``matching train --learner`` can fit: its name, what it is, and how to make one."""

    name: str
    description: str
    make: Callable[[int, tuple[int, ...]], Any]


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        Learner(
            "boosting",
            "histogram gradient boosting (20 iterations of up to 15 leaves, learning rate 0.4), isotonic "
            "calibration on out-of-fold predictions grouped by child",
            lambda seed, cat: StabilityClassifier(random_state=seed, categorical=cat),
        ),
        Learner(
            "logistic",
            "logistic regression, L2 penalty (C chosen from 0.01, 0.1, 1 by the log loss of a 3-fold inner "
            "cross-validation grouped by child), missing values imputed with the training median plus "
            "indicator columns, every column standardised; no separate calibration",
            lambda seed, _cat: LogisticStabilityClassifier(random_state=seed),
        ),
        Learner(
            "boosting_large",
            "histogram gradient boosting (200 iterations of up to 31 leaves, learning rate 0.1), isotonic "
            "calibration on out-of-fold predictions grouped by child",
            lambda seed, cat: StabilityClassifier(
                learning_rate=0.1, max_iter=200, max_leaf_nodes=31, random_state=seed, categorical=cat
            ),
        ),
    )
}
#: The learner ``matching train`` fits unless told otherwise (the one the service has shipped with).
DEFAULT_LEARNER = "boosting"
