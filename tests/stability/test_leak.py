"""The leak test (issue 15): features read as they are now flatter a model; as at the start they do not.

The generated records change over time (needs reassessed and raised after breakdowns, carers' experience
growing, children coming and going), as real records do.  A model trained and evaluated on features
read as they are now must look visibly better than it is on the features a placement really starts
with; the honest model is judged on the same features the service scores it on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from matching.domain import Scope
from matching.stability.leak import leak_probe, leaky_rows
from matching.stability.train import load_history


def test_a_deliberately_leaky_feature_set_scores_visibly_better_than_it_is(
    history_store: tuple[Engine, Path],
) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        probe = leak_probe(conn, scope=Scope.everything(), seed=1)
    assert probe.placements > 300
    # Out of fold over the whole history: seeds 1-4 gave a leak of 0.015-0.021 here (a single split of three
    # authorities ranged from -0.03 to +0.05, too noisy to tell).
    assert probe.leak > 0.01, probe.as_dict()  # the leaky evaluation flatters the leaky model
    assert probe.leaky_reported > probe.honest_as_at_start, probe.as_dict()  # and makes it look the better one
    # The honest model is not flattered: on the features placements really start with it does at least as
    # well as the leaky model does there.
    assert probe.honest_as_at_start >= probe.leaky_as_at_start - 0.01, probe.as_dict()


def test_the_leaky_reading_differs_from_the_start_only_in_what_changed_later(
    history_store: tuple[Engine, Path],
) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        history = load_history(conn, scope=Scope.everything())
        read_on = max(history.rows.meta["start_date"])
        leaky = leaky_rows(history, read_on)
    honest = history.rows.features
    dated = {"age", "previous_moves", "years_in_care", "experience_years", "past_endings", "current_courses",
             "distance_miles", "kinship", "sdq"}  # fmt: skip
    for col in dated:
        assert np.allclose(leaky.features[col], honest[col], equal_nan=True), col
    # Needs reassessed later are visible only in the leaky reading.
    sev = [c for c in honest.columns if c.startswith("severity_")]
    changed = ~np.isclose(leaky.features[sev].to_numpy(), honest[sev].to_numpy(), equal_nan=True)
    assert changed.any(axis=1).mean() > 0.05
