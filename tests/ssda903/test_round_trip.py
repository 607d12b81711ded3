"""Generated England -> 903 export (CSV and XML) -> import into an empty store -> the originals again."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from matching.ssda903.importer import import_903
from tests.ssda903.helpers import store_with


def _text(s: pd.Series) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in s]


@pytest.mark.parametrize("form", ["L001", "L001-xml"])
def test_generated_903_round_trip(small_folder: Path, tmp_path: Path, form: str) -> None:
    engine = store_with(tmp_path / "s.db", "L001")
    import_903(engine, small_folder / "903" / form, la_code="L001", year=2026)
    read = lambda name: pd.read_csv(small_folder / name, dtype=str, keep_default_na=False)  # noqa: E731
    kids, pls, sdq = read("children.csv"), read("placements.csv"), read("sdq_scores.csv")
    missing = pd.read_csv(small_folder / "903" / "L001" / "missing.csv", dtype=str, keep_default_na=False)
    with engine.connect() as conn:
        sk = pd.read_sql(text("select c.*, m.child as orig from child c join ssda903_child m using (child_id)"), conn)
        sp = pd.read_sql(
            text("select p.*, m.child as orig from placement p join ssda903_child m using (child_id)"), conn
        )
        ss = pd.read_sql(
            text("select s.*, m.child as orig from sdq_score s join ssda903_child m using (child_id)"), conn
        )
        n_missing = conn.execute(text("select count(*) from missing_episode")).scalar_one()
    sk = sk.set_index("orig").sort_index()
    kids = kids.set_index("child_id").sort_index()
    assert list(sk.index) == list(kids.index)
    for col in ("sex", "ethnicity", "legal_status", "category_of_need", "place", "place_provider", "care_started",
                "placement_start"):  # fmt: skip
        assert _text(sk[col]) == _text(kids[col]), col
    assert [m.strftime("%Y-%m") for m in pd.to_datetime(sk["birth_month"])] == list(kids["birth_month"])
    assert set(sk.index[sk["uasc"].astype(bool)]) == set(kids.index[kids["uasc"] == "true"])
    # home postcodes travel as sectors (the kilometre square): equal at that precision
    home = kids["home_easting"].replace("", None).astype(float) // 1000
    assert list((sk["home_easting"].astype(float) // 1000).fillna(-1)) == list(home.fillna(-1))
    assert sk["ceased"].isna().all()
    sp = sp.sort_values(["orig", "start_date"], kind="stable")
    pls = pls.sort_values(["child_id", "start_date"], kind="stable")
    for a, b in (("orig", "child_id"), ("place", "place"), ("start_date", "start_date"), ("end_date", "end_date")):
        assert _text(sp[a]) == _text(pls[b]), a
    latest = sdq.sort_values(["child_id", "assessed_on"]).groupby("child_id").tail(1)
    assert dict(zip(ss["orig"], ss["score"], strict=True)) == {
        c: int(s) for c, s in zip(latest["child_id"], latest["score"], strict=True)
    }
    assert n_missing == len(missing.drop_duplicates(["CHILD", "MIS_START", "MISSING"]))
