"""The contract validator: every class of bad input gets a specific problem, and all are listed at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from matching.contract.validate import Problem, validate_folder


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")


def problems_for(folder: Path, **kw: object) -> list[Problem]:
    report = validate_folder(folder, **kw)  # type: ignore[arg-type]
    assert not report.ok
    assert report.tables == {}, "tables must not be handed out when there is an error"
    return report.problems


def test_generated_folder_is_clean(small_folder: Path) -> None:
    report = validate_folder(small_folder)
    assert report.ok, report.problems[:5]
    assert report.row_counts["children"] == 500
    assert set(report.tables) >= {"children", "households", "placements"}


def test_wrong_type_names_file_row_column_value_and_expectation(folder_copy: Path) -> None:
    hh = read(folder_copy, "households")
    hh.loc[3, "approved_places"] = "two"
    write(folder_copy, "households", hh)
    (p,) = problems_for(folder_copy)
    assert (p.file, p.row, p.column, p.value, p.code) == ("households.csv", 5, "approved_places", "two", "bad_value")
    assert "whole number" in p.expected
    assert "households.csv row 5, column approved_places: found 'two'" in str(p)


def test_unknown_code(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    ch.loc[0, "ethnicity"] = "XXXX"
    ch.loc[1, "place"] = "U9"
    write(folder_copy, "children", ch)
    found = {(p.row, p.column, p.value) for p in problems_for(folder_copy)}
    assert found == {(2, "ethnicity", "XXXX"), (3, "place", "U9")}


def test_unknown_code_in_a_list_column(folder_copy: Path) -> None:
    hh = read(folder_copy, "households")
    hh.loc[0, "approved_placement_types"] = "short_term;forever"
    write(folder_copy, "households", hh)
    (p,) = problems_for(folder_copy)
    assert p.column == "approved_placement_types"
    assert "short_term" in p.expected


def test_unknown_taxonomy_need(folder_copy: Path) -> None:
    needs = read(folder_copy, "child_needs")
    needs.loc[0, "need"] = "telepathy"
    write(folder_copy, "child_needs", needs)
    (p,) = problems_for(folder_copy)
    assert (p.file, p.column, p.value) == ("child_needs.csv", "need", "telepathy")


def test_missing_required_columns_are_all_listed(folder_copy: Path) -> None:
    ch = read(folder_copy, "children").drop(columns=["sex", "legal_status"])
    write(folder_copy, "children", ch)
    missing = {p.column for p in problems_for(folder_copy) if p.code == "missing_column"}
    assert missing == {"sex", "legal_status"}


def test_required_value_empty(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    ch.loc[10, "birth_month"] = ""
    write(folder_copy, "children", ch)
    problems = problems_for(folder_copy)
    assert any(p.code == "required" and p.row == 12 and p.column == "birth_month" for p in problems)


def test_duplicate_ids_point_at_first_use(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    ch.loc[5, "child_id"] = ch.loc[2, "child_id"]
    write(folder_copy, "children", ch)
    dupes = [p for p in problems_for(folder_copy) if p.code == "duplicate_id"]
    assert len(dupes) == 1
    assert dupes[0].row == 7
    assert "row 4" in dupes[0].expected


def test_dates_in_the_future(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    ch.loc[0, "care_started"] = "2099-01-01"
    write(folder_copy, "children", ch)
    problems = problems_for(folder_copy, today=date(2026, 11, 22))
    future = [p for p in problems if p.column == "care_started"]
    assert future
    assert "2026-11-22" in future[0].expected


def test_uk_dates_are_accepted(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    iso = ch.loc[0, "care_started"]
    y, m, d = iso.split("-")
    ch.loc[0, "care_started"] = f"{d}/{m}/{y}"
    write(folder_copy, "children", ch)
    report = validate_folder(folder_copy)
    assert report.ok
    assert report.tables["children"].loc[0, "care_started"] == pd.Timestamp(iso)


def test_sibling_group_that_points_nowhere(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    lone = ch.index[ch["sibling_group_id"] == ""][0]
    ch.loc[lone, "sibling_group_id"] = "NOWHERE-1"
    write(folder_copy, "children", ch)
    (p,) = problems_for(folder_copy)
    assert (p.column, p.value, p.code) == ("sibling_group_id", "NOWHERE-1", "dangling_reference")


def test_reference_to_unknown_household(folder_copy: Path) -> None:
    pl = read(folder_copy, "placements")
    row = pl.index[pl["household_id"] != ""][0]
    pl.loc[row, "household_id"] = "GHOST"
    write(folder_copy, "placements", pl)
    (p,) = problems_for(folder_copy)
    assert (p.file, p.column, p.value) == ("placements.csv", "household_id", "GHOST")
    assert "households.csv" in p.expected


def test_household_with_more_children_than_approved_places(folder_copy: Path) -> None:
    hh = read(folder_copy, "households")
    ch = read(folder_copy, "children")
    counts = ch[ch["household_id"] != ""].groupby("household_id").size()
    full = counts[counts >= 2].index[0]
    hh.loc[hh["household_id"] == full, "approved_places"] = "1"
    write(folder_copy, "households", hh)
    problems = problems_for(folder_copy)
    over = [p for p in problems if p.code == "over_capacity"]
    assert over
    assert over[0].file == "households.csv"
    assert "places" in (over[0].value or "")


def test_usual_fostering_limit_without_exemption(folder_copy: Path) -> None:
    hh = read(folder_copy, "households")
    members = read(folder_copy, "household_members")
    target = hh.loc[0, "household_id"]
    hh.loc[0, ["approved_places", "usual_limit_exemption"]] = ["6", "false"]
    extra = pd.DataFrame(
        {
            "member_id": [f"X{i}" for i in range(5)],
            "household_id": target,
            "kind": "foster_child",
            "birth_month": "2015-01",
            "sex": "F",
        }
    )
    write(folder_copy, "households", hh)
    write(folder_copy, "household_members", pd.concat([members, extra]))
    problems = problems_for(folder_copy)
    assert any(p.column == "usual_limit_exemption" and "Sch 7" in p.expected for p in problems)


def test_supported_accommodation_for_under_16(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    young = ch.index[(ch["birth_month"] > "2013-01") & (ch["household_id"] == "")][0]
    ch.loc[young, ["place", "place_provider"]] = ["K3", "PR4"]
    write(folder_copy, "children", ch)
    problems = problems_for(folder_copy)
    assert any(p.code == "law" and p.column == "place" for p in problems)


def test_empty_file(folder_copy: Path) -> None:
    (folder_copy / "children.csv").write_bytes(b"")
    problems = problems_for(folder_copy)
    assert any(p.file == "children.csv" and p.code == "empty_file" for p in problems)


def test_binary_file_is_not_csv(folder_copy: Path) -> None:
    (folder_copy / "households.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    problems = problems_for(folder_copy)
    assert any(p.file == "households.csv" and p.code == "not_csv" for p in problems)


def test_ragged_csv_row(folder_copy: Path) -> None:
    text = (folder_copy / "agencies.csv").read_text()
    lines = text.splitlines()
    lines[2] = lines[2] + ",extra,fields"
    (folder_copy / "agencies.csv").write_text("\n".join(lines) + "\n")
    problems = problems_for(folder_copy)
    bad = [p for p in problems if p.file == "agencies.csv"]
    assert bad
    assert bad[0].code == "not_csv"
    assert bad[0].row == 3


def test_two_gib_file_is_refused_without_reading_it(folder_copy: Path) -> None:
    huge = folder_copy / "placements.csv"
    with huge.open("r+b") as fh:
        fh.truncate(2 * 1024**3)  # sparse: no disk or memory is used
    problems = problems_for(folder_copy)
    (p,) = [p for p in problems if p.file == "placements.csv"]
    assert p.code == "too_large"
    assert "2,048 MiB" in (p.value or "")


def test_missing_required_file_and_missing_folder(folder_copy: Path, tmp_path: Path) -> None:
    (folder_copy / "households.csv").unlink()
    problems = problems_for(folder_copy)
    assert any(p.file == "households.csv" and p.code == "missing_file" for p in problems)
    nowhere = validate_folder(tmp_path / "nope")
    assert [p.code for p in nowhere.problems] == ["no_folder"]


def test_every_problem_reported_at_once(folder_copy: Path) -> None:
    ch = read(folder_copy, "children")
    ch.loc[0:49, "sex"] = "Z"
    write(folder_copy, "children", ch)
    hh = read(folder_copy, "households")
    hh.loc[0, "approved_age_min"] = "-1"
    write(folder_copy, "households", hh)
    problems = problems_for(folder_copy)
    assert len([p for p in problems if p.column == "sex"]) == 50
    assert any(p.file == "households.csv" for p in problems)


def test_unknown_column_is_a_warning_not_an_error(folder_copy: Path) -> None:
    ag = read(folder_copy, "agencies")
    ag["favourite_colour"] = "blue"
    write(folder_copy, "agencies", ag)
    report = validate_folder(folder_copy)
    assert report.ok
    assert [w.column for w in report.warnings] == ["favourite_colour"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("approved_age_min", "18"), ("approved_places", "0"), ("easting", "-5"), ("experience_years", "abc")],
)
def test_ranges_and_numbers(folder_copy: Path, column: str, value: str) -> None:
    hh = read(folder_copy, "households")
    hh.loc[0, column] = value
    write(folder_copy, "households", hh)
    problems = problems_for(folder_copy)
    assert any(p.row == 2 and p.column == column and p.value == value for p in problems)
