"""Issue 15: the generator's records change over time, and each placement's truth reads them as at its start.

Needs are reassessed (after unplanned endings, at reviews), carers gain experience as placements end and
may narrow their preferences after a breakdown, and the children living in a household come and go.  The
history is simulated in date order, so no placement's true probability depends on anything after its start.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import codes
from matching.synth.generator import DEFAULT_SNAPSHOT, LaWorld, authority_world
from matching.synth.needs import REASSESS_WITHIN_DAYS, NeedsTimeline
from matching.taxonomy import load_taxonomy
from tests.conftest import SMALL_SEED

TAX = load_taxonomy()
SNAP = np.datetime64(DEFAULT_SNAPSHOT, "D").astype(np.int64)


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def world() -> LaWorld:
    """The small folder's authority in memory (same seed, same authority)."""
    return authority_world(seed=SMALL_SEED)


@pytest.fixture(scope="module")
def assessments(small_folder: Path) -> pd.DataFrame:
    a = _read(small_folder, "child_needs")
    a["severity"] = a["severity"].astype(int)
    return a


def _in_force(assessments: pd.DataFrame, child_id: str, on: str) -> dict[str, int]:
    """The profile in force on ``on``: the latest assessment dated on or before it (a need not listed is 0)."""
    mine = assessments[(assessments["child_id"] == child_id) & (assessments["assessed_on"] <= on)]
    if mine.empty:
        return {}
    latest = mine[mine["assessed_on"] == mine["assessed_on"].max()]
    return dict(zip(latest["need"], latest["severity"], strict=True))


def test_the_world_in_memory_is_the_folder_written(world: LaWorld, small_folder: Path) -> None:
    truth = _read(small_folder, "truth/placement_truth")
    mine = world.frames["placement_truth"]
    assert list(truth["placement_id"]) == list(mine["placement_id"])
    assert np.allclose(truth["p_unplanned_12m"].astype(float), mine["p_unplanned_12m"])
    assert list(_read(small_folder, "households")["household_id"]) == world.households.ids


# --- needs assessed over time ------------------------------------------------------------------------


def test_every_unplanned_ending_is_followed_by_a_reassessment(world: LaWorld) -> None:
    h, tl = world.history, world.needs
    child, days, _ = tl.assessments()
    checked = 0
    for r in range(len(h.child)):
        if h.reason[r] not in codes.UNPLANNED_REASONS:
            continue
        end, i = h.end[r], h.child[r]
        if end + REASSESS_WITHIN_DAYS[1] > SNAP:
            continue
        after = days[(child == i) & (days > end) & (days <= end + REASSESS_WITHIN_DAYS[1])]
        assert len(after) > 0, (i, end)
        checked += 1
    assert checked > 50


def test_the_dated_file_shows_reassessments_after_unplanned_endings(
    small_folder: Path, assessments: pd.DataFrame
) -> None:
    pl = _read(small_folder, "placements")
    broke = pl[pl["end_reason"].isin(codes.UNPLANNED_REASONS) & (pl["end_date"] < "2026-01-01")]
    dated = assessments.groupby("child_id")["assessed_on"].apply(set)
    found = 0
    for cid, end in zip(broke["child_id"], broke["end_date"], strict=True):
        if cid in dated.index and any(d > end for d in dated[cid]):
            found += 1
    # A child with no need at all at a reassessment has no row for it; nearly all have one.
    assert found >= 0.9 * len(broke)
    assert len(broke) > 50


def test_some_reassessments_raise_a_behaviour_need(world: LaWorld) -> None:
    child, days, profile = world.needs.assessments()
    order = np.lexsort((days, child))
    child, days, profile = child[order], days[order], profile[order]
    same = child[1:] == child[:-1]
    raised = same & (profile[1:] > profile[:-1]).any(axis=1)
    assert raised.sum() > 30
    behaviour = [TAX.need_ids.index(n) for n in ("physical_aggression", "going_missing", "self_harm")]
    assert (same & (profile[1:, behaviour] > profile[:-1, behaviour]).any(axis=1)).sum() > 10
    # Needs at the first assessment are at most those on file now, and often fewer.
    first = np.r_[True, ~same]
    now = world.children.severity[child[first]]
    assert (profile[first].sum(axis=1) < now.sum(axis=1)).mean() > 0.2


def test_the_latest_rating_of_each_need_on_file_is_the_profile_now(world: LaWorld, small_folder: Path) -> None:
    """``child_needs`` holds the dated history; read as the contract says (each need's latest rating, 0 for a
    need gone), it gives the profile the rest of the code sees now."""
    on_file = _read(small_folder, "child_needs")
    ratings = on_file.assign(severity=on_file["severity"].astype(int)).sort_values(["child_id", "need", "assessed_on"])
    latest = ratings.groupby(["child_id", "need"]).tail(1)
    now = {(c, n): v for c, n, v in zip(latest["child_id"], latest["need"], latest["severity"], strict=True) if v > 0}
    names = world.needs.need_ids
    rows, cols = np.nonzero(world.children.severity)
    want = {
        (str(world.children.child_id[r]), names[c]): int(world.children.severity[r, c])
        for r, c in zip(rows, cols, strict=True)
    }
    assert now == want
    _, _, profile = world.needs.assessments()
    assert (profile[world.needs.last] == world.children.severity).all()
    assert (world.needs.level == world.children.severity).all()
    # The history: children reassessed have more than one date on file.
    assert (on_file.groupby("child_id")["assessed_on"].nunique() > 1).mean() > 0.5


def test_the_files_meet_the_contract_key_of_child_needs(small_folder: Path) -> None:
    on_file = _read(small_folder, "child_needs")
    assert not on_file.duplicated(["child_id", "need", "assessed_on"]).any()


# --- the households' records ---------------------------------------------------------------------------


def test_experience_on_file_is_base_plus_the_needs_of_children_who_left(
    world: LaWorld, small_folder: Path, assessments: pd.DataFrame
) -> None:
    hh = _read(small_folder, "households").set_index("household_id")
    pl = _read(small_folder, "placements")
    ids = world.households.ids
    base = {
        ids[k]: {TAX.need_ids[j] for j in np.flatnonzero(world.profile.base_experience[k])} for k in range(len(ids))
    }
    expected = {hid: set(b) for hid, b in base.items()}
    grew = 0
    for cid, hid, end in zip(pl["child_id"], pl["household_id"], pl["end_date"], strict=True):
        if hid == "" or end == "":
            continue
        gained = {n for n, v in _in_force(assessments, cid, end).items() if v >= 2}
        grew += bool(gained - expected[hid])
        expected[hid] |= gained
    on_file = {hid: set(filter(None, v.split(";"))) for hid, v in hh["experience_needs"].items()}
    for hid in ids:
        assert on_file[hid] >= base[hid], hid
        assert on_file[hid] == expected[hid], hid
    assert grew > 20


def test_carers_change_their_preferences_only_after_a_breakdown(world: LaWorld, small_folder: Path) -> None:
    hh = _read(small_folder, "households")
    pl = _read(small_folder, "placements")
    broke_with = set(pl.loc[pl["end_reason"].isin(codes.UNPLANNED_REASONS), "household_id"]) - {""}
    added = narrowed = 0
    for k, hid in enumerate(world.households.ids):
        drawn, now = list(world.wont_at_approval[k]), world.state.wont[k]
        assert hh.at[k, "will_not_consider"] == ";".join(now)
        assert now[: len(drawn)] == drawn  # the list only grows
        lo, hi = world.pref_at_approval[0][k], world.pref_at_approval[1][k]
        new_lo, new_hi = int(world.state.pref_min[k]), int(world.state.pref_max[k])
        if (new_lo, new_hi) != (lo, hi):
            narrowed += 1
            assert hid in broke_with
            assert new_lo <= new_hi
            assert new_lo >= (lo if lo >= 0 else world.households.age_min[k])
            assert new_hi <= (hi if hi >= 0 else world.households.age_max[k])
        if len(now) > len(drawn):
            assert hid in broke_with, hid
            added += len(now) - len(drawn)
    assert added > 5
    assert narrowed > 0


def test_the_children_living_there_come_and_go(world: LaWorld, small_folder: Path) -> None:
    pl = _read(small_folder, "placements")
    pl = pl[pl["household_id"] != ""]
    end = pl["end_date"].replace("", "9999-12-31")
    busiest = []
    for _, rows in pl.assign(end=end).groupby("household_id"):
        busiest.append(max(((rows["start_date"] <= d) & (rows["end"] > d)).sum() for d in set(rows["start_date"])))
    assert max(busiest) >= 2  # several foster children at once somewhere
    # Those living there at the end of the simulation are the children placed there now.
    ch = _read(small_folder, "children")
    index = {hid: k for k, hid in enumerate(world.households.ids)}
    now: list[set[str]] = [set() for _ in world.households.ids]
    for cid, hid in zip(ch["child_id"], ch["household_id"], strict=True):
        if hid:
            now[index[hid]].add(cid)
    assert [{world.children.child_id[i] for i in r} for r in world.state.residents] == now


# --- no looking ahead ------------------------------------------------------------------------------------


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.dates(min_value=date(2016, 1, 1), max_value=date(2025, 12, 1)))
def test_no_placement_reads_anything_after_its_start(cut: date) -> None:
    """Redraw every random choice of the history from ``cut`` on: placements that began before it are unchanged."""
    base = authority_world(seed=SMALL_SEED)
    moved = authority_world(seed=SMALL_SEED, perturb_history_from=cut)
    key = ["child_id", "start_date"]
    cols = [*key, "household_id", "place", "end_date", "end_reason", "distance_miles"]

    def rows(w: LaWorld) -> pd.DataFrame:
        t = w.frames["placement_truth"][["p_unplanned_12m", "latent_logit", "unplanned_12m"]]
        return pd.concat([w.frames["placements"][cols], t], axis=1).astype(str)

    a, b = rows(base), rows(moved)
    before = cut.isoformat()
    early_a = a[a["start_date"] < before].set_index(key).sort_index()
    early_b = b[b["start_date"] < before].set_index(key).sort_index()
    pd.testing.assert_frame_equal(early_a, early_b)
    late = a[a["start_date"] >= before].merge(b, on=key, how="outer", indicator=True)
    changed = (late["_merge"] != "both") | (late["p_unplanned_12m_x"] != late["p_unplanned_12m_y"])
    assert changed.any()  # the perturbation did change what came after


# --- the needs timeline on its own ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    reads=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
    breakdowns=st.lists(st.integers(0, 3000), max_size=4),
)
def test_the_needs_in_force_are_the_latest_assessment_by_then(
    seed: int, reads: list[int], breakdowns: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    n, m = 3, len(TAX.need_ids)
    underlying = rng.integers(0, 4, (n, m)) * (rng.random((n, m)) < 0.3)
    birth = np.array([-4000, -2000, -6000])
    care = np.array([0, 10, 5])
    tl = NeedsTimeline.start(underlying, birth, care, TAX, rng)
    events = sorted([(d, "read") for d in reads] + [(d, "break") for d in breakdowns])
    for day, kind in events:
        for i in range(n):
            if day < care[i]:
                continue  # nothing reads a child's needs before care starts
            if kind == "break":
                tl.advance(i, day, rng)
                tl.reassess_after(i, day, 3000, rng)
                continue
            level = tl.advance(i, day, rng).copy()
            child, days, profile = tl.assessments()
            mine = np.flatnonzero((child == i) & (days <= day))
            assert len(mine) > 0  # the first assessment predates care
            latest = mine[np.argmax(days[mine])]
            assert (profile[latest] == level).all()
            assert (level >= 0).all()
            assert (level <= 3).all()
    child, days, _ = tl.assessments()
    for i in range(n):
        mine = days[child == i]
        assert (np.diff(mine) > 0).all()  # one assessment a day at most, made in date order
