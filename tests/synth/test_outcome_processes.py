"""Issue 15: two outcome processes, chosen with ``generate --outcome-process``, each with its own truth."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from matching.cli import app
from matching.contract.validate import validate_folder
from matching.synth.calibration import calibration_table
from matching.synth.generator import generate
from matching.synth.outcomes import (
    DEFAULT_INTERACTING,
    OUTCOME_PROCESSES,
    InteractingProcess,
    OutcomeCoefficients,
    PlacementState,
    StandardProcess,
    age_term,
    outcome_process,
    unplanned_logit,
)
from tests.conftest import SMALL_SEED
from tests.synth.test_generator import digest


@pytest.fixture(scope="module")
def interacting_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("interacting")
    generate(out, las=1, seed=SMALL_SEED, outcome_process="interacting")
    return out


def _truth(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "truth" / "placement_truth.csv", dtype=str, keep_default_na=False)


def _state(**changes: object) -> PlacementState:
    base = PlacementState(
        age=8.0,
        previous_moves=1,
        previous_residential=False,
        coverage=0.5,
        complexity=1.0,
        distance_miles=10.0,
        sibling_separated=False,
        kinship=False,
        outside_preferred_age=False,
        preference_conflict=False,
        aggression=False,
        young_child=False,
        other_foster_children=0,
        experience_years=5.0,
        household=0,
        child=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- both processes through the generator -------------------------------------------------------------


def test_the_truth_records_the_process(small_folder: Path, interacting_folder: Path) -> None:
    for folder, name in ((small_folder, "standard"), (interacting_folder, "interacting")):
        meta = json.loads((folder / "truth" / "generator.json").read_text())
        assert meta["outcome_process"] == name
        assert meta["outcome_coefficients"] == outcome_process(name).coef.as_dict()
        assert "needs" in meta["records_over_time"]
        assert list(_truth(folder).columns) == ["placement_id", "p_unplanned_12m", "latent_logit", "unplanned_12m"]


def test_the_processes_differ_on_the_same_children(small_folder: Path, interacting_folder: Path) -> None:
    a, b = digest(small_folder), digest(interacting_folder)
    # The same children and households (drawn before any outcome), different histories and truths.
    assert a["children.csv"] == b["children.csv"]
    assert a["truth/placement_truth.csv"] != b["truth/placement_truth.csv"]
    assert a["placements.csv"] != b["placements.csv"]


def test_the_interacting_process_is_deterministic(interacting_folder: Path, tmp_path: Path) -> None:
    generate(tmp_path, las=1, seed=SMALL_SEED, outcome_process="interacting")
    assert digest(tmp_path) == digest(interacting_folder)


def test_the_interacting_folder_meets_the_contract_and_calibration(interacting_folder: Path) -> None:
    assert validate_folder(interacting_folder).ok
    out = [r for r in calibration_table(interacting_folder) if not r.ok]
    assert not out, out


@pytest.mark.slow
def test_calibration_of_a_region_with_interacting_outcomes(tmp_path: Path) -> None:
    generate(tmp_path, las=20, seed=5, outcome_process="interacting")
    out = [r for r in calibration_table(tmp_path) if not r.ok]
    assert not out, out


def _between_children(folder: Path) -> float:
    """Share of the unrecorded terms' variance between children, among children with 3+ placements."""
    pl = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    t = _truth(folder).merge(pl[["placement_id", "child_id"]], on="placement_id")
    latent = t["latent_logit"].astype(float)
    many = t.groupby("child_id")["placement_id"].transform("size") >= 3
    means = latent.groupby(t["child_id"]).transform("mean")
    return float(means[many].var() / latent[many].var())


def test_the_unrecorded_child_effect_shows_in_the_truth(small_folder: Path, interacting_folder: Path) -> None:
    """Placements of one child share its effect, so their unrecorded terms go together; the standard
    process draws them independently (its share is what chance gives for groups of 3 or more)."""
    standard, interacting = _between_children(small_folder), _between_children(interacting_folder)
    assert standard < 0.4
    assert interacting > standard + 0.1


def test_cli_chooses_the_process(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--outcome-process", "interacting"])
    assert done.exit_code == 0, done.output
    assert "interacting outcomes" in done.output
    assert json.loads((tmp_path / "truth" / "generator.json").read_text())["outcome_process"] == "interacting"
    bad = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--outcome-process", "nonsense"])
    assert bad.exit_code != 0


def test_unknown_process_or_mismatched_coefficients_are_refused() -> None:
    assert set(OUTCOME_PROCESSES) == {"standard", "interacting"}
    with pytest.raises(ValueError, match="unknown outcome process"):
        outcome_process("linear")
    with pytest.raises(TypeError):
        outcome_process("interacting", OutcomeCoefficients())


# --- the standard process: the scalar form the simulation uses is unplanned_logit ------------------------


@settings(max_examples=200, deadline=None)
@given(
    age=st.floats(0, 18),
    moves=st.integers(0, 12),
    coverage=st.floats(0, 1),
    complexity=st.floats(0, 15),
    distance=st.floats(0, 999),
    flags=st.lists(st.booleans(), min_size=7, max_size=7),
    experience=st.floats(0, 40),
    latent=st.floats(-2, 2),
)
def test_the_standard_process_is_unplanned_logit(
    age: float,
    moves: int,
    coverage: float,
    complexity: float,
    distance: float,
    flags: list[bool],
    experience: float,
    latent: float,
) -> None:
    sib, kin, outside, conflict, aggression, young, res = flags
    s = _state(
        age=age,
        previous_moves=moves,
        coverage=coverage,
        complexity=complexity,
        distance_miles=distance,
        sibling_separated=sib,
        kinship=kin,
        outside_preferred_age=outside,
        preference_conflict=conflict,
        aggression=aggression,
        young_child=young,
        experience_years=experience,
        previous_residential=res,
    )
    vector = unplanned_logit(
        age_at_start=np.array(age),
        previous_moves=np.array(moves),
        coverage=np.array(coverage),
        complexity=np.array(complexity),
        distance_miles=np.array(distance),
        sibling_separated=np.array(sib),
        kinship=np.array(kin),
        outside_preferred_age=np.array(outside),
        aggression_with_young=np.array(aggression and young),
        preference_conflict=np.array(conflict),
        experience_years=np.array(experience),
        previous_residential=np.array(res),
        latent=np.array(latent),
    )
    assert StandardProcess().logit(s, latent) == pytest.approx(float(vector), abs=1e-9)


# --- the interacting process's shape -------------------------------------------------------------------------


def test_interacting_age_peaks_at_13_to_15() -> None:
    peak = age_term(14.0)
    assert peak > age_term(16.5) > age_term(7.0) > age_term(3.0) > age_term(0.5)
    assert peak > age_term(11.0)
    assert age_term(13.0) == age_term(15.9) == peak


def test_interacting_moves_jump_at_3_and_6() -> None:
    p = InteractingProcess()
    at = [p.logit(_state(previous_moves=m), 0.0) for m in range(9)]
    assert at[0] == at[1] == at[2] < at[3] == at[4] == at[5] < at[6] == at[7] == at[8]


def test_interacting_residential_history_matters_more_when_younger() -> None:
    p = InteractingProcess()

    def effect(age: float) -> float:
        return p.logit(_state(age=age, previous_residential=True), 0.0) - p.logit(_state(age=age), 0.0)

    assert effect(9.0) > effect(15.0) > 0


def test_interacting_other_children_and_coverage() -> None:
    p = InteractingProcess()
    crowd = [p.logit(_state(other_foster_children=n), 0.0) for n in range(5)]
    assert crowd[0] < crowd[1] < crowd[2] < crowd[3] == crowd[4]
    young_and_aggressive = p.logit(_state(aggression=True, young_child=True), 0.0)
    assert young_and_aggressive > p.logit(_state(aggression=True), 0.0) == p.logit(_state(young_child=True), 0.0)
    # Coverage enters non-linearly: the first half of the gap costs less than the second.
    c1, c05, c0 = (p.logit(_state(coverage=c, complexity=0.0), 0.0) for c in (1.0, 0.5, 0.0))
    assert (c0 - c05) > (c05 - c1) > 0
    # ... and more for a child with more complex needs.
    gap = lambda x: p.logit(_state(coverage=0.0, complexity=x), 0.0) - p.logit(_state(coverage=1.0, complexity=x), 0.0)  # noqa: E731
    assert gap(3.0) > gap(0.0)


def test_interacting_unrecorded_effects_follow_the_child_and_household() -> None:
    child, household = np.array([1.0, -1.0]), np.array([2.0, 0.0])
    p = InteractingProcess().with_effects(child, household)
    rng = np.random.default_rng(0)
    c = DEFAULT_INTERACTING
    draws = [p.latent(_state(child=0, household=0), rng) for _ in range(400)]
    assert np.mean(draws) == pytest.approx(c.child_sd * 1 + c.household_sd * 2, abs=0.05)
    outside = [p.latent(_state(child=1, household=-1), rng) for _ in range(400)]
    assert np.mean(outside) == pytest.approx(-c.child_sd, abs=0.05)
    assert np.std(outside) == pytest.approx(c.noise_sd, rel=0.2)
