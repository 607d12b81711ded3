"""Authority-scoped identity, year rules at their boundaries (each citing its DfE rule), and the bugs of issue 14."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from matching.contract.validate import ContractError
from matching.ssda903 import rules
from matching.ssda903.importer import convert, import_903, infer_year
from matching.ssda903.read import read_folder
from matching.ssda903.report import write_report
from matching.store.engine import make_engine, upgrade
from tests.ssda903.helpers import EPISODES, HEADER, REPO, counts, store_with, write


def found(folder: Path, year: int) -> list[str]:
    return [
        f"{p.file}:{p.row}:{p.column}:{p.code}" for p in convert(read_folder(folder), la_code="L", year=year).problems
    ]


# --- identity ----------------------------------------------------------------------------


def test_two_authorities_sharing_child_ids_both_stay_whole(tmp_path: Path) -> None:
    kids = "C1,1,01/05/2010,WBRI,,,\nC2,2,01/05/2011,WBRI,,,\n"
    a = write(tmp_path / "a", kids, "C1,01/06/2016,S,C2,N1,U4,PR1,,,,,,\nC2,01/06/2016,S,C2,N1,K2,PR4,,,,,,\n",
              oc2="CHILD,DOB,SDQ_SCORE,SDQ_REASON\nC1,01/05/2010,12,\n")  # fmt: skip
    b = write(tmp_path / "b", kids, "C1,01/07/2016,S,C1,N2,U6,PR4,,,,,,\nC2,01/07/2016,S,C1,N2,P1,PR0,,,,,,\n",
              oc2="CHILD,DOB,SDQ_SCORE,SDQ_REASON\nC1,01/05/2010,30,\n")  # fmt: skip
    engine = store_with(tmp_path / "s.db", "LA1", "LA2")
    import_903(engine, a, la_code="LA1", year=2017)
    before_a = counts(engine, "LA1")
    import_903(engine, b, la_code="LA2", year=2017)
    assert counts(engine, "LA1") == before_a, "importing authority B never changes authority A"
    assert counts(engine, "LA2") == before_a
    with engine.connect() as conn:
        rows = conn.execute(text("select la_code, child, child_id from ssda903_child order by 1, 2")).all()
        places = dict(conn.execute(text("select child_id, place from child")).all())
    assert [tuple(r) for r in rows] == [("LA1", "C1", "LA1.C1"), ("LA1", "C2", "LA1.C2"),
                                        ("LA2", "C1", "LA2.C1"), ("LA2", "C2", "LA2.C2")]  # fmt: skip
    assert places == {"LA1.C1": "U4", "LA1.C2": "K2", "LA2.C1": "U6", "LA2.C2": "P1"}
    again = counts(engine)
    import_903(engine, b, la_code="LA2", year=2017)
    assert counts(engine) == again, "a second import of the same return changes nothing"


def test_a_return_for_an_authority_not_in_the_store_is_refused_with_its_code(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", "C1,1,01/05/2010,WBRI,,,\n", "C1,01/06/2016,S,C2,N1,U4,PR1,,,,,,\n")
    engine = store_with(tmp_path / "s.db", "LA1")
    with pytest.raises(ContractError) as info:
        import_903(engine, folder, la_code="ZZ9", year=2017)
    assert [(p.column, p.value) for p in info.value.report.problems] == [("--la", "ZZ9")]


# --- year rules at their boundaries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "year", "ok"), [("1", 2024, True), ("M", 2024, False), ("M", 2025, True), ("1", 2025, False)]
)
def test_rule_101_sex_is_1_2_up_to_2023_24_and_m_f_u_from_2024_25(
    tmp_path: Path, sex: str, year: int, ok: bool
) -> None:
    folder = write(tmp_path, f"C1,{sex},01/05/2012,WBRI,,,\n", "C1,01/06/2020,S,C2,N1,U4,PR1,,,,,,\n")
    assert found(folder, year) == ([] if ok else ["header.csv:2:SEX:invalid"])


@pytest.mark.parametrize(
    ("place", "year", "ok"),
    [("K3", 2024, False), ("K3", 2025, True), ("Z1", 2025, True), ("Z1", 2026, False), ("Z11", 2025, False),
     ("Z11", 2026, True), ("H5", 2025, True), ("H5", 2026, False)],
)  # fmt: skip
def test_rule_146_open_placement_codes_by_year(tmp_path: Path, place: str, year: int, ok: bool) -> None:
    sex = "1" if year <= 2024 else "M"
    folder = write(tmp_path, f"C1,{sex},01/05/2005,WBRI,,,\n", f"C1,01/06/2023,S,C2,N1,{place},PR4,,,,,,\n")
    assert found(folder, year) == ([] if ok else ["episodes.csv:2:PLACE:rule_146"])


@pytest.mark.parametrize(("dec", "year", "ok"), [("", 2023, True), ("", 2024, False), ("28/10/2023", 2024, True),
                                                 ("29/10/2023", 2024, False)])  # fmt: skip
def test_rule_217t_p2_not_valid_after_28_october_2023(tmp_path: Path, dec: str, year: int, ok: bool) -> None:
    rec = "E8" if dec else ""
    folder = write(tmp_path, "C1,1,01/05/2005,WBRI,,,\n", f"C1,01/06/2022,S,C2,N1,P2,PR0,{dec},{rec},,,,\n")
    assert found(folder, year) == ([] if ok else ["episodes.csv:2:PLACE:rule_217t"])


@pytest.mark.parametrize(("year", "ok"), [(2025, True), (2026, False)])
def test_rule_233_reason_place_change_on_an_open_episode_refused_from_2025_26(
    tmp_path: Path, year: int, ok: bool
) -> None:
    folder = write(tmp_path, "C1,M,01/05/2005,WBRI,,,\n", "C1,01/06/2023,S,C2,N1,U4,PR4,,,CARPL,,,\n")
    assert found(folder, year) == ([] if ok else ["episodes.csv:2:REASON_PLACE_CHANGE:rule_233"])


def test_an_ended_legacy_episode_is_history_in_any_year(tmp_path: Path) -> None:
    # rule 146 in 2025-26 has no H5; an H5 that ended before 1 April 2025 is history, kept as it was
    eps = "C1,01/06/2020,S,C2,N1,H5,PR4,01/06/2021,E8,,,,\n"
    folder = write(tmp_path, "C1,M,01/05/2005,WBRI,,,\n", eps)
    conv = convert(read_folder(folder), la_code="L", year=2026)
    assert conv.problems == []
    assert conv.tables["children"]["place"].iat[0] == "H5"
    assert conv.tables["children"]["ceased"].iat[0] == "2021-06-01"


def test_the_rules_doc_is_generated_from_the_table() -> None:
    assert (REPO / "docs" / "ssda903-rules.md").read_text(encoding="utf-8") == rules.render_docs()
    assert {r.number for r in rules.RULES} >= {"101", "146", "217t", "233"}


# --- faithful history --------------------------------------------------------------------------


def test_a_placement_ends_on_the_dec_of_its_last_episode_and_time_out_of_care_stays_out(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "C1,1,01/05/2005,WBRI,,,\n",
        "C1,01/06/2015,S,C2,N1,U4,PR1,01/09/2015,X1,,,,\n"
        "C1,01/09/2015,L,C1,N1,U4,PR1,01/12/2015,E13,CARPL,,,\n"  # care ended: returned home
        "C1,01/03/2016,L,V2,N1,U4,PR1,01/04/2016,X1,,,,\n"  # back in care three months later (RNE L, same carer)
        "C1,01/05/2016,P,V2,N1,K2,PR4,,,,,,\n",  # a gap of a month, then a children's home
    )
    conv = convert(read_folder(folder), la_code="L", year=2017)
    pl = conv.tables["placements"]
    assert list(zip(pl["start_date"], pl["end_date"], strict=True)) == [
        ("2015-06-01", "2015-12-01"), ("2016-03-01", "2016-04-01"), ("2016-05-01", "")
    ]  # fmt: skip
    kid = conv.tables["children"].iloc[0]
    assert (kid["care_started"], kid["ceased"]) == ("2016-05-01", "")


def test_an_episodes_file_without_dec_is_a_problem_not_all_open(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "header.csv").write_text(HEADER + "C1,1,01/05/2005,WBRI,,,\n")
    (folder / "episodes.csv").write_text("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,REC,REASON_PLACE_CHANGE\n"
                                         "C1,01/06/2015,S,C2,N1,U4,PR1,,\n")  # fmt: skip
    assert "episodes.csv:1:DEC:missing_column" in found(folder, 2016)


def test_a_child_who_ceased_is_not_placed_or_waiting(tmp_path: Path, small_folder: Path) -> None:
    from matching.domain import Scope
    from matching.store import queries
    from matching.store.importer import import_folder

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.connect() as conn:
        kid, hid = conn.execute(text("select child_id, household_id from child where household_id is not null "
                                     "and sibling_group_id is not null and child_id in (select child_id from referral where status='open')")).first()  # fmt: skip
    folder = write(tmp_path / "r", f"{kid},M,01/05/2010,WBRI,,,\n",
                   f"{kid},01/06/2024,S,C2,N1,U4,PR1,01/01/2025,E13,,,,\n")  # fmt: skip
    import_903(engine, folder, la_code="L001", year=2025)
    with engine.connect() as conn:
        assert conn.execute(text(f"select ceased from child where child_id = '{kid}'")).scalar_one() is not None
        scope = Scope.everything()
        assert kid not in {r.child_id for r in queries.open_referrals(conn, scope=scope)}
        assert kid not in {c.child_id for c in queries.children_placed_in(conn, scope=scope, places=["U4"])}
        household = queries.get_household(conn, scope=scope, household_id=hid)
        assert household is not None
        assert kid not in {m.member_id for m in household.foster_children}


# --- reading -----------------------------------------------------------------------------------


def test_xml_in_the_dfe_layout_reads_uasc_and_missing(tmp_path: Path) -> None:
    xml = (
        "<EXPSSDA903><CHILD><HEADER><CHILDID>X1</CHILDID><SEX>1</SEX><DOB>01/01/2005</DOB><ETHNIC>WBRI</ETHNIC>"
        "<UASC>1</UASC><DUC>01/01/2023</DUC><AMISSING><MISSING>M</MISSING><MIS_START>01/02/2016</MIS_START>"
        "<MIS_END>03/02/2016</MIS_END></AMISSING></HEADER><EPISODE><DECOM>01/01/2016</DECOM><RNE>S</RNE><CIN>N1</CIN>"
        "<PL>U4</PL><PLACE_PROVIDER>PR1</PLACE_PROVIDER><DEC /><REC /><REASON_PLACE_CHANGE /></EPISODE></CHILD>"
        "</EXPSSDA903>"
    )
    (tmp_path / "r.xml").write_text(xml)
    conv = convert(read_folder(tmp_path), la_code="L", year=2016)
    # EPISODE without LS: a problem in the list, not KeyError: 'LS'
    assert [(p.column, p.code, p.child) for p in conv.problems] == [("LS", "missing_column", None)] or [
        (p.column, p.child) for p in conv.problems
    ] == [("LS", None), ("LS", "X1")]
    (tmp_path / "r.xml").write_text(xml.replace("<CIN>", "<LS>C2</LS><CIN>"))
    conv = convert(read_folder(tmp_path), la_code="L", year=2016)
    assert conv.problems == []
    assert (conv.uasc, len(conv.tables["missing_episodes"])) == (1, 1)


def test_encoding_lower_case_headers_txt_names_and_empty_rows(tmp_path: Path) -> None:
    (tmp_path / "header.txt").write_bytes(("child,sex,dob,ethnic\nC1,1,01/05/2005,WBRI\n,,,\n").encode("cp1252"))
    (tmp_path / "episodes.csv").write_bytes(
        (EPISODES + "C1,01/06/2015,S,C2,N1,U4,PR1,,,,Café,,\n,,,,,,,,,,,,\n").encode("cp1252")
    )
    (tmp_path / "notes.docx").write_bytes(b"x")
    ret = read_folder(tmp_path)
    assert ret.skipped == [("notes.docx", "not a CSV or XML file (.docx)")]
    assert [w.code for w in ret.warnings] == ["encoding"]
    assert convert(ret, la_code="L", year=2016).problems == []


def test_an_unreadable_header_is_listed_first_with_its_knock_ons_under_it(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_bytes(HEADER.encode() + b"C1,1,01/05/2005,WBRI,\x81\x8d,,\n")
    write(tmp_path, "", "C1,01/06/2015,S,C2,N1,U4,PR1,,,,,,\n")
    (tmp_path / "header.csv").write_bytes(HEADER.encode() + b"C1,1,01/05/2005,WBRI,\x81\x8d,,\n")
    engine = store_with(tmp_path / "s.db", "L")
    with pytest.raises(ContractError) as info:
        import_903(engine, tmp_path, la_code="L", year=2016)
    first, *rest = info.value.report.problems
    assert (first.file, first.code) == ("header.csv", "encoding")
    assert rest
    assert all(p.cause == str(first) for p in rest)


def test_contract_stage_problems_point_at_the_903_file_row_and_child(tmp_path: Path) -> None:
    # DECOM before the month of birth passes the 903 checks and fails the contract's rule on care_started
    folder = write(tmp_path / "r", "C1,1,01/05/2015,WBRI,,,\n", "C1,01/06/2014,S,C2,N1,U4,PR1,,,,,,\n")
    engine = store_with(tmp_path / "s.db", "L")
    with pytest.raises(ContractError) as info:
        import_903(engine, folder, la_code="L", year=2016)
    where = {(p.file, p.row, p.child, p.column) for p in info.value.report.problems}
    assert ("episodes.csv", 2, "C1", "DECOM") in where
    report = tmp_path / "report.csv"
    assert write_report(report, info.value.report.problems, []) == len(info.value.report.problems)
    assert report.read_text().splitlines()[0] == "severity,file,row,child,column,value,expected,code,caused_by"


def test_an_infinite_easting_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    folder = write(tmp_path, "C1,1,01/05/2005,WBRI,,,\n", "C1,01/06/2015,S,C2,N1,U4,PR1,,,,AB1 2,,\n",
                   postcodes="sector,easting,northing\nAB1 2,inf,100\n")  # fmt: skip
    assert found(folder, 2016) == ["postcodes.csv:2:EASTING:invalid"]


def test_sdq_and_missing_rows_of_header_children_with_no_episode_are_accepted(tmp_path: Path) -> None:
    folder = write(tmp_path, "C1,1,01/05/2005,WBRI,,,\nC2,1,01/05/2006,WBRI,,,\n",
                   "C1,01/06/2015,S,C2,N1,U4,PR1,,,,,,\n",
                   oc2="CHILD,DOB,SDQ_SCORE,SDQ_REASON\nC2,01/05/2006,20,\n",
                   missing="CHILD,DOB,MISSING,MIS_START,MIS_END\nC2,01/05/2006,M,01/01/2016,02/01/2016\n")  # fmt: skip
    conv = convert(read_folder(folder), la_code="L", year=2016)
    assert conv.problems == []
    assert conv.not_stored == {"sdq_scores": 1, "missing_episodes": 1, "uasc": 0}


def test_a_sqlite_path_with_at_and_percent_works(tmp_path: Path) -> None:
    odd = tmp_path / "a@b%c"
    odd.mkdir()
    engine = make_engine(f"sqlite:///{odd / 's.db'}")
    upgrade(engine)
    assert (odd / "s.db").exists()


def test_one_late_date_does_not_move_the_year(tmp_path: Path) -> None:
    header = "".join(f"C{i},1,01/05/2005,WBRI,,,\n" for i in range(150))
    eps = "".join(f"C{i},01/06/2016,S,C2,N1,U4,PR1,,,,,,\n" for i in range(150))
    folder = write(tmp_path, header, eps + "C0,01/04/2017,P,C2,N1,U4,PR1,,,,,,\n")
    assert infer_year(folder) == 2017  # 2016-17: the one date in 2017-18 does not move it


def test_a_current_z1_before_2025_26_and_an_ended_h5_import_into_the_store(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", "C1,M,01/05/2005,WBRI,,,\nC2,F,01/05/2006,WBRI,,,\n",
                   "C1,01/06/2024,S,C2,N1,Z1,PR4,,,,,,\nC2,01/06/2023,S,C2,N1,H5,PR4,01/07/2024,E8,,,,\n")  # fmt: skip
    engine = store_with(tmp_path / "s.db", "L")
    import_903(engine, folder, la_code="L", year=2025)
    with engine.connect() as conn:
        rows = conn.execute(text("select child_id, place, ceased from child order by 1")).all()
    assert [(a, b, c is not None) for a, b, c in rows] == [("L.C1", "Z1", False), ("L.C2", "H5", True)]


def test_903_and_contract_problems_are_listed_together(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", "C1,1,01/05/2015,WBRI,,,\nC2,9,01/05/2010,WBRI,,,\n",
                   "C1,01/06/2014,S,C2,N1,U4,PR1,,,,,,\nC2,01/06/2014,S,C2,N1,U4,PR1,,,,,,\n")  # fmt: skip
    engine = store_with(tmp_path / "s.db", "L")
    with pytest.raises(ContractError) as info:
        import_903(engine, folder, la_code="L", year=2016)
    where = {(p.file, p.row, p.child, p.column) for p in info.value.report.problems}
    assert {("header.csv", 3, "C2", "SEX"), ("episodes.csv", 2, "C1", "DECOM")} <= where
