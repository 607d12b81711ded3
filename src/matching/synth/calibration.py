"""``matching calibration``: the shares in a folder of contract files beside the published targets.

Targets are the national figures in domain.md §7.  A share passes when it is within its
tolerance: the larger of a fixed margin and three binomial standard errors for the number of
rows it is measured on (a single authority of 500 children is a small sample), inflated by a
design effect where rows are drawn in clusters.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching import codes


@dataclass(frozen=True)
class Target:
    """A published figure to compare against."""

    measure: str
    value: float
    source: str
    margin: float = 0.025
    #: Variance inflation for shares of clustered draws (kin households follow sibling groups).
    design_effect: float = 1.0


@dataclass(frozen=True)
class CalibrationRow:
    """One measure: generated share, target, tolerance and verdict."""

    measure: str
    generated: float
    target: float | None
    tolerance: float | None
    n: int
    ok: bool | None
    source: str

    def as_dict(self) -> dict[str, object]:
        """Plain mapping for JSON output."""
        return asdict(self)


_CLA = "DfE CLA 31 Mar 2024"
TARGETS: tuple[Target, ...] = (
    Target("sex: male", 0.57, _CLA),
    Target("UASC", 0.07, _CLA, 0.02),
    Target("ethnicity: White", 0.71, _CLA),
    Target("ethnicity: Mixed", 0.11, _CLA),
    Target("ethnicity: Black", 0.07, _CLA),
    Target("ethnicity: Asian", 0.05, _CLA),
    Target("ethnicity: Other", 0.05, _CLA),
    Target("age: under 1", 0.05, "DfE CLA 2022"),
    Target("age: 1-4", 0.14, "DfE CLA 2022"),
    Target("age: 5-9", 0.18, "DfE CLA 2022"),
    Target("age: 10-15", 0.39, "DfE CLA 2022"),
    Target("age: 16+", 0.25, "DfE CLA 2022"),
    Target("placement: fostering_in_house", 0.279, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: fostering_ifa", 0.248, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: fostering_kinship", 0.156, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: childrens_home", 0.114, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: supported_accommodation", 0.098, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: placed_with_parents", 0.060, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("placement: other", 0.033, "FOI 150 LAs Sept 2024 (secondary)"),
    Target("supported accommodation under 16", 0.0, "Law: K3 is for 16-17 year olds only", 0.0),
    Target("foster places vacant", 0.16, "Ofsted fostering 2024 (secondary)", 0.03),
    Target("households: family and friends", 0.21, "Ofsted fostering 2024 (secondary)", 0.04, 2.0),
    Target("placed over 20 miles from home", 0.22, "DfE CLA 2024", 0.04),
    Target("one placement in the year", 0.69, "DfE CLA 2024", 0.04),
    Target("three or more placements in the year", 0.10, "DfE CLA 2024", 0.03),
    Target("ending reason: CARPL", 0.31, "DfE CLA 2024 placement changes", 0.04),
    Target("ending reason: PLACE", 0.24, "DfE CLA 2024 placement changes", 0.04),
    Target("ending reason: OTHER", 0.22, "DfE CLA 2024 placement changes", 0.04),
    Target("ending reason: CREQB", 0.08, "DfE CLA 2024 placement changes", 0.03),
    Target("ending reason: CREQO", 0.06, "DfE CLA 2024 placement changes", 0.03),
    Target("ending reason: CHILD", 0.03, "DfE CLA 2024 placement changes", 0.02),
)
_AGE_EDGES = (0, 1, 5, 10, 16, 99)
_AGE_NAMES = ("under 1", "1-4", "5-9", "10-15", "16+")


def _snapshot(folder: Path, children: pd.DataFrame) -> pd.Timestamp:
    meta = folder / "truth" / "generator.json"
    if meta.exists():
        return pd.Timestamp(json.loads(meta.read_text(encoding="utf-8"))["snapshot"])
    return pd.to_datetime(children["placement_start"]).max()


def measure(folder: Path | str) -> dict[str, tuple[float, int]]:
    """Every calibration measure of a folder as (share, rows measured on)."""
    folder = Path(folder)
    read = lambda name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    ch = read("children")
    hh = read("households")
    pl = (
        read("placements")
        if (folder / "placements.csv").exists()
        else pd.DataFrame(
            columns=["child_id", "household_id", "start_date", "end_date", "end_reason", "distance_miles"]
        )
    )
    snap = _snapshot(folder, ch)
    n = len(ch)
    out: dict[str, tuple[float, int]] = {}
    out["sex: male"] = (float((ch["sex"] == "M").mean()), n)
    out["UASC"] = (float(ch["uasc"].str.lower().isin(["true", "1", "yes", "y"]).mean()), n)
    groups = ch["ethnicity"].map(codes.ETHNIC_TO_GROUP)
    for g in ("White", "Mixed", "Black", "Asian", "Other"):
        out[f"ethnicity: {g}"] = (float((groups == g).mean()), n)
    born = pd.to_datetime(ch["birth_month"], format="%Y-%m")
    age = (snap - born).dt.days / 365.25
    band = pd.cut(age, _AGE_EDGES, right=False, labels=_AGE_NAMES)
    for name in _AGE_NAMES:
        out[f"age: {name}"] = (float((band == name).mean()), n)
    cats = [codes.placement_category(p, v or None) for p, v in zip(ch["place"], ch["place_provider"], strict=True)]
    cat_s = pd.Series(cats)
    for c in codes.PLACEMENT_CATEGORIES:
        out[f"placement: {c}"] = (float((cat_s == c).mean()), n)
    k3 = ch["place"] == codes.PLACE_SUPPORTED_ACCOMMODATION
    out["supported accommodation under 16"] = (float((k3 & (age < 16)).sum() / max(1, k3.sum())), int(k3.sum()))
    places = pd.to_numeric(hh["approved_places"]).sum()
    fostered = int(ch["household_id"].ne("").sum())
    out["foster places vacant"] = (float(1 - fostered / places) if places else 0.0, int(places))
    out["households: family and friends"] = (float(hh["connected_child_ids"].ne("").mean()), len(hh))
    current = pl[pl["end_date"] == ""]
    dist = pd.to_numeric(current["distance_miles"], errors="coerce")
    known = dist[dist < 999]
    out["placed over 20 miles from home"] = (float((known > 20).mean()) if len(known) else 0.0, len(known))
    if len(pl):
        year_start = snap - pd.Timedelta(days=365)
        start = pd.to_datetime(pl["start_date"])
        end = pd.to_datetime(pl["end_date"].replace("", None))
        overlaps = (start <= snap) & (end.isna() | (end > year_start))
        per_child = overlaps.groupby(pl["child_id"]).sum().reindex(ch["child_id"], fill_value=0)
        per_child = per_child.clip(lower=1)
        out["one placement in the year"] = (float((per_child == 1).mean()), n)
        out["three or more placements in the year"] = (float((per_child >= 3).mean()), n)
        ended = pl[(pl["end_date"] != "") & (end > year_start)]
        reasons = ended["end_reason"]
        for code in ("CARPL", "PLACE", "OTHER", "CREQB", "CREQO", "CHILD"):
            out[f"ending reason: {code}"] = (float((reasons == code).mean()) if len(reasons) else 0.0, len(reasons))
    return out


def calibration_table(folder: Path | str) -> list[CalibrationRow]:
    """Generated shares beside the targets, each with its tolerance and verdict."""
    got = measure(folder)
    rows: list[CalibrationRow] = []
    for t in TARGETS:
        if t.measure not in got:
            continue
        value, n = got[t.measure]
        se = float(np.sqrt(max(t.value * (1 - t.value), 1e-9) / max(n, 1)))
        tol = max(t.margin, 3 * se * float(np.sqrt(t.design_effect))) if t.margin > 0 else 0.0
        rows.append(
            CalibrationRow(
                t.measure,
                round(value, 4),
                t.value,
                round(tol, 4),
                n,
                bool(abs(value - t.value) <= tol + 1e-12),
                t.source,
            )
        )
    return rows
