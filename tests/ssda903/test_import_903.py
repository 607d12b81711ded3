"""SSDA903 import: code rules by collection year, dates, the error contract, the XML form, a round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text

from matching.contract.validate import ContractError
from matching.ssda903 import rules
from matching.ssda903.importer import Converted, convert, import_903, infer_year
from matching.ssda903.read import detect, read_folder
from matching.store import schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from tests.ssda903.helpers import write


def converted(folder: Path, year: int) -> Converted:
    conv = convert(read_folder(folder), la_code="L001", year=year)
    assert conv.problems == [], conv.problems
    return conv


def problems(folder: Path, year: int) -> list[str]:
    conv = convert(read_folder(folder), la_code="L001", year=year)
    return [f"{p.file}:{p.row}:{p.column}:{p.value}" for p in conv.problems]


def test_collection_years() -> None:
    assert rules.collection_year("2024-25") == rules.collection_year("2025") == 2025
    assert rules.year_label(2026) == "2025-26"
    with pytest.raises(ValueError, match="follow each other"):
        rules.collection_year("2024-26")
    with pytest.raises(ValueError, match="knows"):
        rules.collection_year("2030-31")


@pytest.mark.parametrize(
    ("sex", "year", "ok"),
    [
        ("1", 2024, True),
        ("2", 2024, True),
        ("M", 2024, False),
        ("M", 2025, True),
        ("U", 2026, True),
        ("1", 2025, False),
    ],
)
def test_sex_codes_follow_the_year(tmp_path: Path, sex: str, year: int, ok: bool) -> None:
    folder = write(tmp_path, f"C1,{sex},01/05/2012,WBRI,,,\n", "C1,01/06/2020,S,C2,N1,U4,PR1,,,,,,\n")
    if ok:
        assert converted(folder, year).tables["children"]["sex"].iat[0] in ("M", "F", "U")
    else:
        assert problems(folder, year) == [f"header.csv:2:SEX:{sex}"]


@pytest.mark.parametrize(
    ("place", "closed", "year", "ok"),
    [
        ("K3", False, 2024, False), ("K3", False, 2025, True),
        ("Z11", False, 2025, False), ("Z11", False, 2026, True),
        ("Z1", False, 2026, False), ("Z1", True, 2026, True), ("Z1", False, 2025, True),
        ("H5", False, 2026, False), ("H5", True, 2026, True), ("P2", True, 2020, True),
    ],
)  # fmt: skip
def test_place_codes_follow_the_year_and_legacy_is_readable_in_history(
    tmp_path: Path, place: str, closed: bool, year: int, ok: bool
) -> None:
    sex = "1" if year <= 2024 else "M"
    history = f"C1,01/06/2018,S,C2,N1,{place},PR4,01/06/2019,X1,CARPL,,,\n" if closed else ""
    current = "C1,01/06/2019,P,C2,N1,U4,PR1,,,,,,\n" if closed else f"C1,01/06/2019,S,C2,N1,{place},PR4,,,,,,\n"
    folder = write(tmp_path, f"C1,{sex},01/05/2005,WBRI,,,\n", history + current)
    if ok:
        assert len(converted(folder, year).tables["placements"]) == (2 if closed else 1)
    else:
        assert problems(folder, year) == [f"episodes.csv:{2}:PLACE:{place}"]


def test_dates_in_either_form(tmp_path: Path) -> None:
    folder = write(tmp_path, "C1,M,2012-05-01,WBRI,,,\n", "C1,2020-06-01,S,C2,N1,U4,PR1,,,,,,\n")
    kids = converted(folder, 2026).tables["children"]
    assert kids["birth_month"].iat[0] == "2012-05"
    assert kids["care_started"].iat[0] == "2020-06-01"


def test_every_problem_is_listed_with_where_and_what(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "C1,X,31/02/2012,WBRI,,,\nC2,M,01/01/2010,NOPE,,,\nC1,M,01/01/2011,WBRI,,,\n",
        "C1,01/13/2020,S,C2,N1,U4,PR1,,,,,,\nC9,01/06/2020,S,C2,N1,U4,PR1,,,,,,\nC2,01/06/2020,Q,C9,N1,U4,PR9,,,,,,\n",
        **{"oc2": "CHILD,DOB,SDQ_SCORE,SDQ_REASON\nC2,01/01/2010,41,\n", "missing": "CHILD,DOB,MISSING,MIS_START,MIS_END\nC2,01/01/2010,Z,soon,\n"},
    )  # fmt: skip
    found = problems(folder, 2026)
    for expected in (
        "header.csv:2:SEX:X", "header.csv:2:DOB:31/02/2012", "header.csv:3:ETHNIC:NOPE", "header.csv:4:CHILD:C1",
        "episodes.csv:2:DECOM:01/13/2020", "episodes.csv:3:CHILD:C9", "episodes.csv:4:RNE:Q", "episodes.csv:4:LS:C9",
        "episodes.csv:4:PLACE_PROVIDER:PR9", "oc2.csv:2:SDQ_SCORE:41", "missing.csv:2:MISSING:Z",
        "missing.csv:2:MIS_START:soon",
    ):  # fmt: skip
        assert expected in found, expected
    assert len(found) == 12


def test_tables_are_found_by_their_columns_and_others_ignored(tmp_path: Path) -> None:
    assert detect({"CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC"}) == "episodes"
    assert detect({"CHILD", "SEX", "DOB", "DUC"}) == "uasc"
    assert detect({"CHILD", "REVIEW", "REVIEW_CODE"}) is None
    folder = write(tmp_path, "C1,M,01/05/2012,WBRI,,,\n", "C1,01/06/2020,S,C2,N1,U4,PR1,,,,,,\n",
                   reviews="CHILD,DOB,REVIEW,REVIEW_CODE\nC1,01/05/2012,01/01/2021,PN1\n")  # fmt: skip
    shutil.move(folder / "header.csv", folder / "whatever_name.csv")
    ret = read_folder(folder)
    assert set(ret.tables) == {"header", "episodes"}
    assert ret.skipped == [("reviews.csv", "an SSDA903 Reviews table, not used by this service")]


def test_placements_are_runs_of_episodes_and_legal_changes_do_not_split_them(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "C1,M,01/05/2012,WBRI,,,\n",
        "C1,01/06/2020,S,V2,N1,U4,PR1,01/09/2020,X1,,,,\n"
        "C1,01/09/2020,L,C2,N1,U4,PR1,01/03/2021,X1,CREQB,,,\n"
        "C1,01/03/2021,P,C2,N1,K2,PR4,,,,,,\n",
    )
    t = converted(folder, 2026).tables
    pl = t["placements"]
    assert list(pl["place"]) == ["U4", "K2"]
    assert pl["end_date"].iat[0] == "2021-03-01"
    assert pl["end_reason"].iat[0] == "CREQB"
    kid = t["children"].iloc[0]
    assert (kid["place"], kid["placement_start"], kid["legal_status"]) == ("K2", "2021-03-01", "C2")


@pytest.fixture
def store_and_folder(small_folder: Path, tmp_path: Path) -> tuple[Engine, Path]:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    return engine, small_folder


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in schema.TABLES.values()}


def test_round_trip_keeps_what_the_store_knew(store_and_folder: tuple[Engine, Path]) -> None:
    engine, folder = store_and_folder
    return_dir = folder / "903" / "L001"
    assert infer_year(return_dir) == 2026
    with engine.connect() as conn:
        before = pd.read_sql(text("select * from child order by child_id"), conn)
        linked = conn.execute(text("select count(*) from placement where household_id is not null")).scalar_one()
        sdq = conn.execute(text("select count(*) from sdq_score")).scalar_one()
    _result, conv = import_903(engine, return_dir, la_code="L001", year=2026)
    assert conv.children == len(before)
    with engine.connect() as conn:
        after = pd.read_sql(text("select * from child order by child_id"), conn)
        assert (
            conn.execute(text("select count(*) from placement where household_id is not null")).scalar_one() == linked
        )
        assert conn.execute(text("select count(*) from sdq_score")).scalar_one() >= sdq
        assert conn.execute(text("select count(*) from missing_episode")).scalar_one() > 0
    for col in ("place", "placement_start", "care_started", "legal_status", "category_of_need", "ethnicity", "sex",
                "household_id", "sibling_group_id", "religion", "care_plan_goal"):  # fmt: skip
        assert list(after[col]) == list(before[col]), col
    again = _counts(engine)
    import_903(engine, return_dir, la_code="L001", year=2026)
    assert _counts(engine) == again, "importing the same return twice changes nothing"


def test_the_xml_form_gives_the_same_children_and_placements(
    store_and_folder: tuple[Engine, Path], tmp_path: Path
) -> None:
    _, folder = store_and_folder
    a = converted(folder / "903" / "L001", 2026).tables
    b = converted(folder / "903" / "L001-xml", 2026).tables
    cols = ["child_id", "place", "placement_start", "care_started", "legal_status", "home_easting"]
    assert a["children"][cols].reset_index(drop=True).equals(b["children"][cols].reset_index(drop=True))
    assert a["placements"].reset_index(drop=True).equals(b["placements"].reset_index(drop=True))


def test_a_bad_return_imports_nothing(store_and_folder: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, folder = store_and_folder
    bad = tmp_path / "bad"
    shutil.copytree(folder / "903" / "L001", bad)
    episodes = (bad / "episodes.csv").read_text().splitlines()
    episodes[5] = episodes[5].replace(",S,", ",Q,").replace(",P,", ",Q,")
    (bad / "episodes.csv").write_text("\n".join(episodes) + "\n")
    before = _counts(engine)
    with pytest.raises(ContractError) as info:
        import_903(engine, bad, la_code="L001", year=2026)
    assert any(p.column == "RNE" and p.row == 6 for p in info.value.report.problems)
    assert _counts(engine) == before


def test_an_unknown_authority_is_refused(store_and_folder: tuple[Engine, Path]) -> None:
    engine, folder = store_and_folder
    with pytest.raises(ContractError) as info:
        import_903(engine, folder / "903" / "L001", la_code="L999", year=2026)
    assert any("already in the store" in p.expected for p in info.value.report.problems)
