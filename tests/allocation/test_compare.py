"""Ours against first come, first served, like for like: the children both place are compared on each method's
own figures, and the children only one places are counted apart, so the three parts add up to each method."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import given

from matching.allocation.baselines import first_come_first_served
from matching.allocation.compare import figures, like_for_like
from matching.allocation.instance import AllocationInstance, Arc
from matching.allocation.report import summarise
from matching.allocation.solver import SolverSettings, solve
from tests.allocation.factories import instance, room, unit
from tests.allocation.test_properties import planted


def test_the_common_children_are_compared_on_each_methods_own_placements() -> None:
    # A (referred first) takes its best household X under first come, first served, and B has nowhere left; placing
    # both means A goes to Y (further, out of area, a lower fit): the comparison must show A is worse off.
    a = unit("A", referred=date(2026, 1, 1))
    b = unit("B", referred=date(2026, 2, 1))
    rooms = instance([a, b], [room("X"), room("Y", la="L002")], []).households
    inst = AllocationInstance([a, b], rooms, [Arc(0, 0, 80.0, 3.0), Arc(0, 1, 60.0, 9.0), Arc(1, 0, 70.0, 2.0)])
    fcfs = first_come_first_served(inst)
    assert fcfs == {0: 0}
    ours = solve(inst, SolverSettings(no_worse_than_first_come=False)).assignment
    assert ours == {0: 1, 1: 2}  # both placed, children first
    out = like_for_like(inst, ours, fcfs)
    assert out["both"]["ours"] == {"children": 1, "mean_fit": 60.0, "mean_distance_miles": 9.0, "out_of_area": 1}
    assert out["both"]["first_come_first_served"] == {
        "children": 1, "mean_fit": 80.0, "mean_distance_miles": 3.0, "out_of_area": 0,
    }  # fmt: skip
    assert out["only_ours"] == {"children": 1, "mean_fit": 70.0, "mean_distance_miles": 2.0, "out_of_area": 0}
    assert out["only_first_come_first_served"]["children"] == 0
    assert out["only_first_come_first_served"]["mean_fit"] is None


@given(planted())
def test_the_parts_add_up_to_each_method_and_the_solver_reports_them(inst: AllocationInstance) -> None:
    result = solve(inst)
    fcfs = first_come_first_served(inst)
    out = result.like_for_like
    assert out == like_for_like(inst, result.assignment, fcfs)
    ours, theirs = summarise(inst, result.assignment), summarise(inst, fcfs)
    assert out["both"]["ours"]["children"] + out["only_ours"]["children"] == ours["placed"]
    assert (
        out["both"]["first_come_first_served"]["children"] + out["only_first_come_first_served"]["children"]
        == (theirs["placed"])
    )
    assert out["both"]["ours"]["children"] == out["both"]["first_come_first_served"]["children"]
    everyone = figures(inst, result.assignment, sorted(result.assignment))
    assert everyone["children"] == ours["placed"]
    assert everyone["out_of_area"] == ours["out_of_area"]
    assert result.as_dict(inst)["like_for_like"] == out


def test_nothing_placed_compares_nothing() -> None:
    empty = instance([unit("A")], [room("X")], [])
    out = like_for_like(empty, {}, {})
    assert out["both"]["ours"] == {"children": 0, "mean_fit": None, "mean_distance_miles": None, "out_of_area": 0}


def test_fairness_by_group_recomputed_from_the_assignments(small_folder: Path, tmp_path: Path) -> None:
    from matching.allocation import service
    from matching.allocation.solver import SolverSettings
    from matching.decisions.monitoring import SMALL_GROUP, group_values
    from matching.domain import Scope
    from matching.fit_config import load_fit_config
    from matching.store.engine import make_engine, upgrade
    from matching.store.importer import import_folder
    from matching.taxonomy import load_taxonomy

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.connect() as conn:
        inst, result = service.allocate(
            conn, scope=Scope(la_codes=frozenset({"L001"})), on=date(2026, 4, 1), cfg=load_fit_config(),
            taxonomy=load_taxonomy(), settings=SolverSettings(5.0, 7, 1),
        )  # fmt: skip
    rows = result.as_dict(inst)["fairness_by_group"]
    assert rows
    assert inst.context is not None
    fcfs = first_come_first_served(inst)
    in_groups: dict[str, int] = {}  # children counted in the groups of each attribute, suppressed or not
    for row in rows:
        members = []  # (unit, child) of the group, recomputed from the records
        for u, un in enumerate(inst.units):
            req = inst.context.requests[u]
            kids = {c.child_id: c for c in (req.child, *req.siblings)}
            members += [u for cid in un.child_ids if group_values(kids[cid], req.on)[row["attribute"]] == row["group"]]
        in_groups[row["attribute"]] = in_groups.get(row["attribute"], 0) + len(members)
        assert row["suppressed"] == (len(members) < SMALL_GROUP)
        if row["suppressed"]:
            assert row["ours"] is None
            continue
        assert row["waiting"] == len(members)
        for name, assignment in (("ours", result.assignment), ("first_come_first_served", fcfs)):
            placed = [u for u in members if u in assignment]
            assert row[name]["placed"] == len(placed)
            if placed:
                fit = sum(inst.arcs[assignment[u]].score for u in placed) / len(placed)
                assert row[name]["mean_fit"] == round(fit, 2)
    # every child waiting is in exactly one group of each attribute, and no group is left out
    waiting = sum(un.size for un in inst.units)
    assert in_groups
    assert all(n == waiting for n in in_groups.values()), (in_groups, waiting)
