"""``matching import-903`` on the command line: one line per problem, a summary, exit 1, --report CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.ssda903.helpers import store_with
from tests.test_cli import run

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"


def test_problems_one_line_each_summary_exit_1_and_the_report(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store_with(db, "L1").dispose()
    folder = tmp_path / "ret"
    folder.mkdir()
    (folder / "header.csv").write_text(HEADER + "C1,X,01/05/2005,WBRI,,,\nC2,1,01/05/2005,NOPE,,,\n")
    (folder / "episodes.csv").write_text(
        EPISODES + "C1,01/06/2015,S,C2,N1,U4,PR1,,,,,,\nC2,01/06/2015,Q,C2,N1,U4,PR1,,,,,,\n"
    )
    (folder / "readme.md").write_text("x")
    report = tmp_path / "out" / "problems.csv"
    done = run("import-903", str(folder), "--la", "L1", "--year", "2017-18", "--report", str(report), db=db)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("  ")]
    assert len(lines) == 3, done.stderr
    assert "header.csv row 2, CHILD C1, column SEX: found 'X'" in done.stderr
    assert "3 problems in the 2017-18 SSDA903 return" in done.stderr
    with report.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["file"], r["row"], r["child"], r["column"]) for r in rows] == [
        ("episodes.csv", "3", "C2", "RNE"), ("header.csv", "2", "C1", "SEX"), ("header.csv", "3", "C2", "ETHNIC")
    ]  # fmt: skip
    (folder / "header.csv").write_text(HEADER + "C1,1,01/05/2005,WBRI,,,\nC2,1,01/05/2005,WBRI,,,\n")
    (folder / "episodes.csv").write_text(
        EPISODES + "C1,01/06/2015,S,C2,N1,U4,PR1,,,,,,\nC2,01/06/2015,S,C2,N1,U4,PR1,01/09/2015,E13,,,,\n"
    )
    done = run("import-903", str(folder), "--la", "L1", "--year", "2015-16", db=db)
    assert done.returncode == 1, "2015-16 is before the years the rules know"
    done = run("import-903", str(folder), "--la", "L1", "--year", "2017-18", db=db)
    assert done.returncode == 0, done.stderr
    assert "2 children (1 ceased to be looked after)" in " ".join(done.stdout.split())
    assert "skipped readme.md: not a CSV or XML file (.md)" in done.stdout
