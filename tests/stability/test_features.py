"""Features are what the record showed on the start date, and training and scoring compute them alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from matching.domain import Scope
from matching.eligibility.request import MatchRequest
from matching.ranking.service import default_referral
from matching.stability.features import (
    GROUP_ATTRIBUTES,
    ChildHistory,
    age_band,
    age_band_of,
    candidate_features,
    feature_names,
)
from matching.stability.train import load_history


@pytest.fixture(scope="module")
def history(history_store: tuple[Engine, Path]):  # type: ignore[no-untyped-def]
    engine, _ = history_store
    with engine.connect() as conn:
        return load_history(conn, scope=Scope.everything())


def test_one_row_per_past_placement_with_a_household_and_a_known_outcome(history) -> None:  # type: ignore[no-untyped-def]
    meta, feats = history.rows.meta, history.rows.features
    assert len(meta) == len(feats) == len(history.rows.label) > 300
    assert meta["placement_id"].is_unique
    assert list(feats.columns) == feature_names(history.pool.taxonomy.need_ids)
    assert not set(GROUP_ATTRIBUTES) & set(feats.columns), "protected characteristics are never features"
    assert set(np.unique(history.rows.label)) == {0, 1}


def test_household_state_is_as_on_the_start_date(history) -> None:  # type: ignore[no-untyped-def]
    meta, feats, pool = history.rows.meta, history.rows.features, history.pool
    for r in range(0, len(meta), max(1, len(meta) // 60)):
        h = pool.households[pool.index[meta["household_id"].iat[r]]]
        on = meta["start_date"].iat[r]
        current = {t.course for t in h.training if t.current_on(on)}
        assert feats["current_courses"].iat[r] == len(current)
        assert feats["experience_years"].iat[r] == pytest.approx(max(0, (on - h.approved_on).days) / 365.25)
        # Only endings before the start count in the track record.
        assert feats["past_endings"].iat[r] <= h.track_record.ended


def test_training_and_scoring_compute_the_same_pair_features(history) -> None:  # type: ignore[no-untyped-def]
    """Rebuild a past pair through the scoring path on its start date: record-independent columns agree, and
    the needs columns agree wherever the child's needs on record now were all assessed by the start."""
    meta, feats, pool = history.rows.meta, history.rows.features, history.pool
    same = [
        "age", "current_courses", "experience_years", "in_area", "same_ethnic_group", "same_religion",
        "shared_language", "ifa", "years_in_care", "sdq", "experience_needs", "other_children", "child_under_5",
        "nearest_age_gap", "past_endings", "past_unplanned",
    ]  # fmt: skip
    needs_cols = [c for c in feats.columns if c.startswith("severity_")] + ["complexity", "actionable_needs"]
    checked = needs_checked = 0
    for r in range(0, len(meta), max(1, len(meta) // 80)):
        child = history.children[meta["child_id"].iat[r]]
        on = meta["start_date"].iat[r]
        req = MatchRequest(default_referral(child, on), child, on)
        k = pool.index[meta["household_id"].iat[r]]
        live = candidate_features(
            pool, req, np.array([k]), ChildHistory(int(feats["previous_moves"].iat[r])), history.records
        )
        for col in same:
            assert live[col].iat[0] == pytest.approx(feats[col].iat[r], abs=1e-9, nan_ok=True), col
        then = {n: feats[f"severity_{n}"].iat[r] for n in pool.tables.need_ids}
        if child.needs and all(then[n] == child.needs.get(n, 0) for n in pool.tables.need_ids):
            for col in needs_cols:
                assert live[col].iat[0] == pytest.approx(feats[col].iat[r], abs=1e-9, nan_ok=True), col
            needs_checked += 1
        checked += 1
    assert checked >= 60
    assert needs_checked >= 1


def test_training_leaves_out_fields_with_no_history(history) -> None:  # type: ignore[no-untyped-def]
    """Legal status, school, carers' preferences and number are on file only as they are now."""
    feats = history.rows.features
    assert (feats["legal_status"] == -1).all()
    for col in ("school_miles", "carers", "outside_preferred_age", "preference_conflicts"):
        assert feats[col].isna().all(), col


@given(st.floats(min_value=0, max_value=25, allow_nan=False))
def test_one_childs_age_band_is_the_arrays(age: float) -> None:
    """The band of one age (reporting each waiting child) is the band the array function gives it."""
    assert age_band_of(age) == age_band(np.array([age]))[0]
