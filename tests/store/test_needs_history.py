"""A child's needs keep their dated history: a need rated again later, or rated 0 when it has gone.

Before this, the store kept one rating per need (key child_id + need): a reassessment could not be
imported beside the first assessment, so features could only ever read the needs as they are now.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from matching.contract.validate import ContractError
from matching.domain import Scope
from matching.store.importer import import_folder
from matching.store.queries import dated_needs, get_child, needs_in_force


def _child_with_needs(folder: Path) -> tuple[str, pd.DataFrame]:
    needs = pd.read_csv(folder / "child_needs.csv", dtype=str, keep_default_na=False)
    child_id = needs["child_id"].iloc[0]
    return child_id, needs


def _write(folder: Path, needs: pd.DataFrame) -> None:
    needs.to_csv(folder / "child_needs.csv", index=False, lineterminator="\n")


def test_a_reassessment_is_kept_beside_the_first_and_the_latest_rating_is_in_force(
    engine: Engine, folder_copy: Path
) -> None:
    child_id, needs = _child_with_needs(folder_copy)
    mine = needs[needs["child_id"] == child_id]
    need = mine.iloc[0]["need"]
    rated_before = int((mine["need"] == need).sum())
    last = (pd.Timestamp(max(mine["assessed_on"])) + pd.Timedelta(days=1)).date().isoformat()
    later = pd.DataFrame(
        [
            {"child_id": child_id, "need": need, "severity": "3", "assessed_on": last},
            {"child_id": child_id, "need": "going_missing", "severity": "2", "assessed_on": "2001-01-01"},
            {"child_id": child_id, "need": "going_missing", "severity": "0", "assessed_on": last},
        ]
    )
    needs = needs[~((needs["child_id"] == child_id) & (needs["need"] == "going_missing"))]
    _write(folder_copy, pd.concat([needs, later], ignore_index=True))
    import_folder(engine, folder_copy)
    with engine.connect() as conn:
        child = get_child(conn, scope=Scope.everything(), child_id=child_id)
        plain = get_child(conn, scope=Scope.everything(), child_id=child_id, with_sdq=False)
        history = dated_needs(conn, scope=Scope.everything(), child_ids=[child_id])[child_id]
    assert child is not None
    assert plain is not None
    assert child.needs[need] == 3
    assert plain.needs[need] == 3
    assert "going_missing" not in child.needs  # rated 0 at the latest assessment: gone
    assert (date(2001, 1, 1), "going_missing", 2) in history  # but the history keeps it
    assert sum(1 for _, n, _ in history if n == need) == rated_before + 1


def test_two_ratings_of_one_need_on_the_same_date_are_a_duplicate(folder_copy: Path, engine: Engine) -> None:
    child_id, needs = _child_with_needs(folder_copy)
    dup = needs[needs["child_id"] == child_id].iloc[[0]]
    _write(folder_copy, pd.concat([needs, dup], ignore_index=True))
    with pytest.raises(ContractError) as err:
        import_folder(engine, folder_copy)
    (p,) = [p for p in err.value.report.problems if p.code == "duplicate_id"]
    assert (p.file, p.column) == ("child_needs.csv", "child_id+need+assessed_on")


def test_two_undated_ratings_of_one_need_are_a_duplicate_too(folder_copy: Path, engine: Engine) -> None:
    child_id, needs = _child_with_needs(folder_copy)
    dup = needs[needs["child_id"] == child_id].iloc[[0, 0]].assign(assessed_on="")
    _write(folder_copy, pd.concat([needs, dup], ignore_index=True))
    with pytest.raises(ContractError) as err:
        import_folder(engine, folder_copy)
    assert [p.code for p in err.value.report.problems] == ["duplicate_id"]


def test_needs_in_force_takes_the_latest_rating_of_each_need() -> None:
    ratings = [
        ("autism", 2, date(2020, 1, 1)),
        ("autism", 3, date(2022, 1, 1)),
        ("neglect", 2, None),  # undated: older than any dated rating
        ("neglect", 0, date(2021, 1, 1)),
        ("self_harm", 1, None),
    ]
    assert needs_in_force(ratings) == {"autism": 3, "self_harm": 1}
    assert needs_in_force(reversed(ratings)) == {"autism": 3, "self_harm": 1}  # order of rows does not matter


def test_a_child_with_no_assessment_on_record_has_needs_not_known(engine: Engine, folder_copy: Path) -> None:
    """No rating at all is "not known"; every need rated 0 is "assessed, none" (issue 18, item 2)."""
    from matching.store.queries import open_referrals

    needs = pd.read_csv(folder_copy / "child_needs.csv", dtype=str, keep_default_na=False)
    referred = pd.read_csv(folder_copy / "referrals.csv", dtype=str, keep_default_na=False)
    waiting = set(referred.loc[referred["status"] == "open", "child_id"])
    unrated, zeroed = sorted(set(needs["child_id"]) & waiting)[:2]
    needs = needs[needs["child_id"] != unrated]
    needs.loc[needs["child_id"] == zeroed, "severity"] = "0"
    _write(folder_copy, needs)
    import_folder(engine, folder_copy)
    with engine.connect() as conn:
        for with_sdq in (True, False):
            a = get_child(conn, scope=Scope.everything(), child_id=unrated, with_sdq=with_sdq)
            b = get_child(conn, scope=Scope.everything(), child_id=zeroed, with_sdq=with_sdq)
            assert a is not None
            assert b is not None
            assert (a.needs, a.needs_assessed) == ({}, False)
            assert (b.needs, b.needs_assessed) == ({}, True)
        referrals = {r.child_id: r for r in open_referrals(conn, scope=Scope.everything())}
    assert referrals[unrated].needs.assessed is False
    assert referrals[zeroed].needs.assessed is True
