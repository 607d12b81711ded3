"""The ``matching`` command: real runs in a subprocess, one readable line on error, non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd


def run(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    if db is not None:
        env["DATABASE_URL"] = f"sqlite:///{db}"
    return subprocess.run(
        [sys.executable, "-m", "matching.cli", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_help_lists_the_commands() -> None:
    r = run("--help")
    assert r.returncode == 0
    for name in ("generate", "validate", "import", "calibration", "stats", "serve"):
        assert name in r.stdout


def test_generate_validate_import_stats(tmp_path: Path) -> None:
    folder, db = tmp_path / "la", tmp_path / "s.db"
    assert run("generate", "--out", str(folder), "--seed", "3").returncode == 0
    v = run("validate", str(folder))
    assert v.returncode == 0, v.stderr
    assert "meets the data contract" in v.stdout
    i = run("import", str(folder), db=db)
    assert i.returncode == 0, i.stderr
    s = run("stats", db=db)
    assert s.returncode == 0
    assert "500" in s.stdout
    c = run("calibration", str(folder))
    assert "placement: childrens_home" in c.stdout


def test_validate_bad_folder_lists_problems_and_exits_non_zero(tmp_path: Path, small_folder: Path) -> None:
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(small_folder, folder)
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    ch.loc[0, "sex"] = "Z"
    ch.to_csv(folder / "children.csv", index=False)
    report = tmp_path / "problems.csv"
    r = run("validate", str(folder), "--report", str(report))
    assert r.returncode == 1
    assert "children.csv row 2, column sex: found 'Z'" in r.stderr
    assert "Traceback" not in r.stderr
    assert pd.read_csv(report)["column"].tolist() == ["sex"]
    i = run("import", str(folder), "--report", str(tmp_path / "import.csv"), "--all", db=tmp_path / "x.db")
    assert i.returncode == 1
    assert "nothing was imported" in i.stderr
    assert "children.csv row 2, column sex: found 'Z'" in i.stderr
    assert pd.read_csv(tmp_path / "import.csv")["column"].tolist() == ["sex"]  # the hint it prints is an option


def test_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    r = run("calibration", str(tmp_path / "missing"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1
    bad_db = run("stats", db=tmp_path / "no" / "such" / "dir" / "x.db")
    assert "Traceback" not in bad_db.stderr


def test_serve_refuses_a_public_address() -> None:
    r = run("serve", "--host", "0.0.0.0")
    assert r.returncode == 1
    assert "127.0.0.1 only" in r.stderr


def test_serve_refuses_production_unless_configured(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    env |= {"MATCHING_ENVIRONMENT": "production"}
    env.pop("MATCHING_DEBUG", None)
    r = subprocess.run(
        [sys.executable, "-m", "matching.cli", "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "refusing to start in production" in r.stderr
    assert "signing secret" in r.stderr


def test_match_child_and_carer(tmp_path: Path, small_folder: Path) -> None:
    import json

    db = tmp_path / "m.db"
    assert run("import", str(small_folder), db=db).returncode == 0
    human = run("match", "--child", "L001-C00002", "--top", "3", "--on", "2026-04-01", db=db)
    assert human.returncode == 0, human.stderr
    assert "Matches for L001-C00002" in human.stdout
    assert "Ruled out" in human.stdout
    js = run("match", "--child", "L001-C00002", "--top", "3", "--on", "2026-04-01", "--json", db=db)
    body = json.loads(js.stdout)
    assert len(body["candidates"]) == 3
    household = body["candidates"][0]["household_id"]
    carer = run("match", "--carer", household, "--json", "--on", "2026-04-01", db=db)
    assert carer.returncode == 0, carer.stderr
    assert json.loads(carer.stdout)["household_id"] == household
    missing = run("match", "--child", "NOPE", db=db)
    assert missing.returncode == 1
    assert "no child with id 'NOPE'" in missing.stderr
    both = run("match", "--child", "A", "--carer", "B", db=db)
    assert both.returncode == 1
    assert "exactly one" in both.stderr


def test_allocate_an_authority(tmp_path: Path, small_folder: Path) -> None:
    import json

    db = tmp_path / "a.db"
    assert run("import", str(small_folder), db=db).returncode == 0
    r = run(
        "allocate",
        "--la",
        "L001",
        "--on",
        "2026-04-01",
        "--workers",
        "1",
        "--json",
        "--out",
        str(tmp_path / "alloc.json"),
        db=db,
    )
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["status"] in {"optimal", "feasible"}
    assert {"objective", "bound", "gap", "solve_seconds", "assignments", "unplaced", "baselines", "summary"} <= set(
        body
    )
    assert set(body["baselines"]) == {"first_come_first_served", "greedy_best_pair"}
    assert body["summary"]["placed"] >= body["baselines"]["first_come_first_served"]["placed"]
    children = [a["child_id"] for a in body["assignments"]]
    assert len(children) == len(set(children))
    assert json.loads((tmp_path / "alloc.json").read_text()) == body
    guarded = run("allocate", "--la", "L001", "--on", "2026-04-01", "--workers", "1", "--json",
                  "--no-worse-than-fcfs", db=db)  # fmt: skip
    assert guarded.returncode == 0, guarded.stderr
    for answer in (body, json.loads(guarded.stdout)):  # the default is the guard, and the flag says so
        both = answer["like_for_like"]["both"]
        ours, theirs = both["ours"], both["first_come_first_served"]
        if ours["children"]:  # the children first come first served also places fare no worse
            assert ours["mean_fit"] >= theirs["mean_fit"]
            assert ours["out_of_area"] <= theirs["out_of_area"]
            if ours["mean_distance_miles"] is not None:
                assert ours["mean_distance_miles"] <= theirs["mean_distance_miles"]
    first = run("allocate", "--la", "L001", "--on", "2026-04-01", "--workers", "1", "--json",
                "--children-first", db=db)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["objective"] >= body["objective"] - 1e-6  # unguarded: worth at least as much
    missing = run("allocate", "--la", "NOPE", db=db)
    assert missing.returncode == 1
    assert "no local authority 'NOPE'" in missing.stderr


def test_allocate_shows_who_goes_where_and_hides_nothing_silently(tmp_path: Path, small_folder: Path) -> None:
    """Issue 18, items 8, 9, 11: the human output lists each child placed (household, score, miles, siblings),
    says how many rows it leaves out and how to see them, and says how good the proposal is in words."""
    db = tmp_path / "a.db"
    assert run("import", str(small_folder), db=db).returncode == 0
    args = ("allocate", "--la", "L001", "--on", "2026-04-01", "--workers", "1")
    body = json.loads(run(*args, "--json", db=db).stdout)
    human = run(*args, "--show", "2", db=db)
    assert human.returncode == 0, human.stderr
    text = human.stdout
    assert "Who would go where" in text
    for move in body["assignments"][:2]:
        assert move["child_id"] in text
        assert move["household_id"] in text
    if len(body["assignments"]) > 2:
        assert f"…and {len(body['assignments']) - 2:,} more children placed (--show 0" in text
    assert "units" not in text
    assert "e+00" not in text
    assert "the best possible" in text
    every = run(*args, "--show", "0", db=db).stdout
    assert all(m["child_id"] in every for m in body["assignments"])
    assert all(u["child_id"] in every for u in body["unplaced"])
    assert "more children placed" not in every
