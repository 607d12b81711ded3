"""The leak probe: how much better a model looks when its features are read as they are now.

Real records change after the fact: needs are reassessed (and often raised) after a breakdown, carers
gain experience, other children come and go.  A model whose features are read from the record as it
is now learns from what happened *after* each placement began; its evaluation, built the same way,
cannot see it.  The probe measures the gap on the store's own history:

* ``as_at_start`` -- the features as the record stood on each placement's start (what training uses);
* ``as_now`` -- the same placements with the child's needs, the carers' experience and the children
  living there read on the last date in the history (the deliberately leaky reading).

A model trained on each is scored out of fold (children held out) both ways.  For the honest model the two AUCs
it is judged by are the same figure (its evaluation reads as at start, as the service scores); for the
leaky model, the AUC its own evaluation reports (``as_now``) is above the AUC it has on the features a
new placement would really have (``as_at_start``), which is the leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold
from sqlalchemy import Connection

from matching.domain import Scope
from matching.stability import metrics as m
from matching.stability.estimator import StabilityClassifier
from matching.stability.features import HistoryRows, history_features
from matching.stability.train import DEFAULT_SEED, History, load_history


@dataclass(frozen=True)
class LeakProbe:
    """Held-out AUCs of a model trained on each reading, scored on each reading."""

    placements: int
    read_on: date
    honest_as_at_start: float  # what the honest model's evaluation reports (and what the service sees)
    leaky_reported: float  # what a leaky model's own evaluation reports (as-now features)
    leaky_as_at_start: float  # the same leaky model on the features a placement really starts with

    @property
    def leak(self) -> float:
        """How much the leaky evaluation flatters the leaky model (reported minus as at start)."""
        return self.leaky_reported - self.leaky_as_at_start

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "placements": self.placements,
            "read_on": self.read_on.isoformat(),
            "honest_model_auc": round(self.honest_as_at_start, 4),
            "leaky_model_reported_auc": round(self.leaky_reported, 4),
            "leaky_model_auc_as_at_start": round(self.leaky_as_at_start, 4),
            "leak": round(self.leak, 4),
        }


def leaky_rows(history: History, read_on: date) -> HistoryRows:
    """The history's placements with needs, experience and children there read on ``read_on`` (leaky)."""
    children = list(history.children.values())
    return history_features(history.pool, children, history.records.placements, history.records, read_on=read_on)


def leak_probe(conn: Connection, *, scope: Scope, seed: int = DEFAULT_SEED, folds: int = 5) -> LeakProbe:
    """Train on as-at-start and as-now features of the store's history; score both ways out of fold.

    Children are split into ``folds`` groups; each group is scored by models trained on the others, so
    every placement is held out once and the AUCs are over the whole history (a single split of a small
    store is too noisy to tell a leak of a few hundredths).
    """
    history = load_history(conn, scope=scope)
    honest = history.rows
    read_on = max(honest.meta["start_date"])
    leaky = leaky_rows(history, read_on)
    if list(leaky.meta["placement_id"]) != list(honest.meta["placement_id"]):
        raise AssertionError("the leaky reading must describe the same placements")
    y = honest.label
    child_ids = honest.meta["child_id"].to_numpy()
    p_honest, p_leaky_now, p_leaky_start = (np.zeros(len(y)) for _ in range(3))
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y, groups=child_ids):
        groups = child_ids[train_idx]
        fit_h = StabilityClassifier(random_state=seed).fit(honest.features.iloc[train_idx], y[train_idx], groups)
        fit_l = StabilityClassifier(random_state=seed).fit(leaky.features.iloc[train_idx], y[train_idx], groups)
        p_honest[test_idx] = fit_h.predict_proba(honest.features.iloc[test_idx])[:, 1]
        p_leaky_now[test_idx] = fit_l.predict_proba(leaky.features.iloc[test_idx])[:, 1]
        p_leaky_start[test_idx] = fit_l.predict_proba(honest.features.iloc[test_idx])[:, 1]
    return LeakProbe(
        placements=len(y),
        read_on=read_on,
        honest_as_at_start=m.scores(y, p_honest).roc_auc,
        leaky_reported=m.scores(y, p_leaky_now).roc_auc,
        leaky_as_at_start=m.scores(y, p_leaky_start).roc_auc,
    )
