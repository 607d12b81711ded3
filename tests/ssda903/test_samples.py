"""The published sample return (data-to-insight/csc-validator-be-903, fake data in the real layout) imports
as published for each collection year it is valid for, with counts computed here independently."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from matching.contract.validate import ContractError
from matching.ssda903.importer import import_903, infer_year
from tests.ssda903.helpers import counts, samples, store_with


def expected_counts(folder: Path) -> dict[str, int]:
    """Children, episodes, placements, SDQ scores, missing episodes and UASC, counted from the files."""
    read = lambda name: pd.read_csv(folder / name, dtype=str, keep_default_na=False)  # noqa: E731
    eps = read("episodes.csv")[["CHILD", "DECOM", "RNE", "DEC", "REC"]]
    header, oc2, miss, uasc = read("header.csv"), read("oc2.csv"), read("missing.csv"), read("uasc.csv")
    root = ET.parse(folder / "fake_903.xml").getroot()
    x_eps, x_sdq, x_miss, x_uasc = [], [], [], []
    for child in root.findall("CHILD"):
        cid = child.findtext("HEADER/CHILDID")
        x_eps += [
            {"CHILD": cid, **{k: e.findtext(k) or "" for k in ("DECOM", "RNE", "DEC", "REC")}}
            for e in child.findall("EPISODE")
        ]
        if child.findtext("HEADER/OC2/SDQ_SCORE"):
            x_sdq.append(cid)
        x_miss += [(cid, m.findtext("MIS_START"), m.findtext("MISSING")) for m in child.findall("HEADER/AMISSING")]
        if (child.findtext("HEADER/UASC") or "") not in ("", "0"):
            x_uasc.append(cid)
    eps = pd.concat([eps, pd.DataFrame(x_eps)], ignore_index=True)
    eps["start"] = pd.to_datetime(eps["DECOM"], format="%d/%m/%Y")
    eps["end"] = pd.to_datetime(eps["DEC"].replace("", None), format="%d/%m/%Y")
    eps = eps.sort_values(["CHILD", "start"], kind="stable")
    prev = eps.groupby("CHILD").shift(1)
    first = eps["CHILD"] != eps["CHILD"].shift(1)
    # a new placement: the first episode, any RNE but L, after care ended (REC not X1), after time out of care
    new = first | (eps["RNE"] != "L") | (prev["REC"] != "X1") | (prev["end"] < eps["start"])
    with_episodes = set(eps["CHILD"])
    sdq = list(oc2.loc[oc2["SDQ_SCORE"] != "", "CHILD"]) + x_sdq
    missing = {(c, s, k) for c, s, k in zip(miss["CHILD"], miss["MIS_START"], miss["MISSING"], strict=True)} | set(
        x_miss
    )
    return {
        "children": len(with_episodes),
        "header_children": len(header) + len(root.findall("CHILD")),
        "episodes": len(eps),
        "placements": int(new.sum()),
        "sdq_scores": sum(1 for c in sdq if c in with_episodes),
        "missing_episodes": sum(1 for m in missing if m[0] in with_episodes),
        "uasc": len({*uasc["CHILD"], *x_uasc} & with_episodes),
        "ceased": int(eps.groupby("CHILD").tail(1)["DEC"].ne("").sum()),
    }


def test_the_year_is_inferred_despite_one_late_date() -> None:
    # one DEC of 01/04/2018 (and a handful after it) must not move the 2017-18 return into 2018-19
    assert infer_year(samples()) == 2018


@pytest.mark.parametrize("year", [2018, 2019, 2020, 2021, 2022, 2023])
def test_samples_import_as_published_with_independent_counts(tmp_path: Path, year: int) -> None:
    folder = samples()
    want = expected_counts(folder)
    engine = store_with(tmp_path / "s.db", "L001")
    _result, conv = import_903(engine, folder, la_code="L001", year=year)
    got = counts(engine)
    assert conv.episodes == want["episodes"]
    assert got["children"] == conv.children == want["children"]
    assert got["placements"] == conv.placements == want["placements"]
    assert got["sdq_scores"] == want["sdq_scores"]
    assert got["missing_episodes"] == want["missing_episodes"]
    assert conv.uasc == want["uasc"]
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from child where uasc")).scalar_one() == want["uasc"]
        assert conn.execute(text("select count(*) from child where ceased is not null")).scalar_one() == want["ceased"]
    assert conv.skipped == (("LICENSE", "not a CSV or XML file (no extension)"),)


@pytest.mark.parametrize(("year", "rule"), [(2024, "rule_217t"), (2025, "invalid"), (2026, "rule_146")])
def test_samples_are_refused_for_years_they_are_not_valid_for(tmp_path: Path, year: int, rule: str) -> None:
    engine = store_with(tmp_path / "s.db", "L001")
    with pytest.raises(ContractError) as info:
        import_903(engine, samples(), la_code="L001", year=year)
    assert any(p.code == rule for p in info.value.report.problems)
    assert counts(engine)["children"] == 0
