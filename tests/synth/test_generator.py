"""The synthetic generator: deterministic, valid against the contract, calibrated, and honest about its truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching import codes
from matching.contract.validate import validate_folder
from matching.synth.calibration import calibration_table
from matching.synth.generator import generate
from matching.synth.outcomes import OutcomeCoefficients, sigmoid, unplanned_logit


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


def test_same_seed_same_bytes(small_folder: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, las=1, seed=7)
    assert digest(again) == digest(small_folder)


def test_other_seed_other_data(small_folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, las=1, seed=8)
    assert digest(other)["children.csv"] != digest(small_folder)["children.csv"]


@pytest.mark.slow
def test_worker_count_does_not_change_the_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "one", las=4, seed=11, workers=1)
    generate(tmp_path / "two", las=4, seed=11, workers=2)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


def test_default_is_a_mid_sized_local_authority(small_folder: Path) -> None:
    children = pd.read_csv(small_folder / "children.csv")
    households = pd.read_csv(small_folder / "households.csv")
    assert len(children) == 500
    assert 180 <= len(households) <= 320


def test_calibration_of_one_local_authority(small_folder: Path) -> None:
    rows = calibration_table(small_folder)
    out = [r for r in rows if not r.ok]
    assert not out, out
    assert len(rows) >= 30


@pytest.mark.slow
def test_calibration_of_a_region(tmp_path: Path) -> None:
    """Twenty authorities (~11,000 children) sit within the fixed margins of the national figures."""
    generate(tmp_path, las=20, seed=5)
    rows = calibration_table(tmp_path)
    out = [r for r in rows if not r.ok]
    assert not out, out
    assert validate_folder(tmp_path).ok


def test_supported_accommodation_only_for_16_and_17(small_folder: Path) -> None:
    ch = pd.read_csv(small_folder / "children.csv", dtype=str)
    k3 = ch[ch["place"] == codes.PLACE_SUPPORTED_ACCOMMODATION]
    assert len(k3) > 0
    age_at_start = (pd.to_datetime(k3["placement_start"]) - pd.to_datetime(k3["birth_month"])).dt.days / 365.25
    assert (age_at_start >= 16).all()


def test_foster_children_live_in_households_within_their_terms(small_folder: Path) -> None:
    ch = pd.read_csv(small_folder / "children.csv", dtype=str, keep_default_na=False)
    hh = pd.read_csv(small_folder / "households.csv", dtype=str, keep_default_na=False).set_index("household_id")
    fostered = ch[ch["household_id"] != ""]
    assert set(fostered["place"]) <= codes.PLACE_FOSTER
    assert (ch[ch["place"].isin(codes.PLACE_FOSTER)]["household_id"] != "").all()
    kin = fostered[fostered["place"].isin(codes.PLACE_FOSTER_CONNECTED)]
    connected = hh.loc[kin["household_id"], "connected_child_ids"].str.split(";")
    assert all(cid in ids for cid, ids in zip(kin["child_id"], connected, strict=True))


def test_truth_is_consistent_with_the_history(small_folder: Path) -> None:
    pl = pd.read_csv(small_folder / "placements.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(small_folder / "truth" / "placement_truth.csv", dtype=str, keep_default_na=False)
    merged = pl.merge(truth, on="placement_id", validate="one_to_one")
    assert len(merged) == len(pl)
    ended = merged[merged["end_date"] != ""]
    label = ended["unplanned_12m"].astype(int)
    days = (pd.to_datetime(ended["end_date"]) - pd.to_datetime(ended["start_date"])).dt.days
    unplanned = ended["end_reason"].isin(codes.UNPLANNED_REASONS)
    assert ((label == 1) == (unplanned & (days <= 365))).all()
    assert (merged.loc[merged["end_date"] == "", "unplanned_12m"] == "").all()
    p = ended["p_unplanned_12m"].astype(float)
    assert p.between(0, 1).all()
    # Outcomes are drawn from the truth: the mean label is close to the mean probability.
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(label.mean() - p.mean()) < 4 * se + 0.01


def test_outcome_process_directions() -> None:
    """Each documented influence moves the probability the documented way."""
    base = {
        "age_at_start": np.array(8.0),
        "previous_moves": np.array(1),
        "coverage": np.array(0.5),
        "complexity": np.array(1.0),
        "distance_miles": np.array(10.0),
        "sibling_separated": np.array(False),
        "kinship": np.array(False),
        "outside_preferred_age": np.array(False),
        "aggression_with_young": np.array(False),
        "preference_conflict": np.array(False),
        "experience_years": np.array(5.0),
        "previous_residential": np.array(False),
        "latent": np.array(0.0),
    }
    p0 = float(sigmoid(unplanned_logit(**base)))  # type: ignore[arg-type]
    worse = {
        "age_at_start": 15.0,
        "previous_moves": 4,
        "coverage": 0.0,
        "complexity": 3.0,
        "distance_miles": 60.0,
        "sibling_separated": True,
        "outside_preferred_age": True,
        "preference_conflict": True,
        "previous_residential": True,
        "aggression_with_young": True,
    }
    better = {"coverage": 1.0, "kinship": True, "experience_years": 20.0}
    for key, value in worse.items():
        assert float(sigmoid(unplanned_logit(**{**base, key: np.array(value)}))) > p0, key  # type: ignore[arg-type]
    for key, value in better.items():
        assert float(sigmoid(unplanned_logit(**{**base, key: np.array(value)}))) < p0, key  # type: ignore[arg-type]
    assert OutcomeCoefficients().as_dict()["kinship"] < 0


def test_generator_writes_its_seed(small_folder: Path) -> None:
    import json

    meta = json.loads((small_folder / "truth" / "generator.json").read_text())
    assert meta["seed"] == 7
    assert meta["las"] == 1
    assert meta["rows"]["children"] == 500
