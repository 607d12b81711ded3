"""The step-down lever against its baseline: children counted in children, and a child stepping down costs
the change from their children's home (issue 18, item 4: step_down.yaml's +£1,026,195)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from matching.sufficiency.model import Inputs, build_inputs
from matching.sufficiency.run import futures_seeds
from matching.sufficiency.scenario import Scenario
from matching.sufficiency.simulate import simulate
from tests.sufficiency.test_paired import BASE, _inputs


def _no_places(inp: Inputs) -> Inputs:
    """The same area with no free place at all, ever: nobody is placed."""
    import dataclasses

    return dataclasses.replace(
        inp, vacancies=np.zeros_like(inp.vacancies), end_hazard=0.0, approvals_per_month=0.0,
        available_from=np.full_like(inp.available_from, 10**6),
    )  # fmt: skip


def test_children_stepping_down_are_counted_in_children(history_store: tuple[Engine, Path]) -> None:
    engine, _ = history_store
    scenario = Scenario.model_validate({**BASE, "levers": {"step_down": {"children": 7}}})
    with engine.connect() as conn:
        inp = build_inputs(conn, scenario, la_codes=["L001"])
    assert (inp.proto_size[inp.residential_protos] > 1).any(), "a sibling group in a home is needed for the test"
    for seed in futures_seeds(5, 30):
        out = simulate(inp, seed)
        assert out["step_down"] == 7
        assert out["demand"] == out["entries"] + out["moves"] + out["step_down"]


def test_a_child_who_cannot_step_down_stays_in_their_home_at_no_new_cost(history_store: tuple[Engine, Path]) -> None:
    """Children stepping down are in children's homes already, in the baseline too: one who finds no family
    is unmet foster demand, but neither new residential demand nor a new cost."""
    engine, _ = history_store
    scenario = Scenario.model_validate({**BASE, "levers": {"step_down": {"children": 6}}})
    with engine.connect() as conn:
        inp = _no_places(build_inputs(conn, scenario, la_codes=["L001"]))
    base_inp = _no_places(_inputs(engine, None))
    for seed in futures_seeds(5, 10):
        b, w = simulate(base_inp, seed), simulate(inp, seed)
        assert w["placed"] == b["placed"] == 0
        assert w["unmet"] - b["unmet"] == 6
        assert w["residential"] == b["residential"]
        assert w["siblings_separated"] == b["siblings_separated"]
        assert w["cost"] == b["cost"]


def test_a_child_who_steps_down_costs_the_change_from_their_home(inputs_step: Inputs) -> None:
    """Every other child costs from their placement to the end of the horizon; a child stepping down costs
    the change from the children's home to the family (a saving)."""
    from matching.sufficiency.simulate import WEEKS_PER_MONTH

    inp = inputs_step
    saw_one = False
    for seed in futures_seeds(5, 40):
        out = simulate(inp, seed)
        others_placed = out["placed"] - out["step_down_placed"]
        others_unmet = out["unmet"] - (out["step_down"] - out["step_down_placed"])
        assert out["residential"] == others_unmet
        # bounds: each child costs its weekly rate for at most the whole horizon, at least a month
        weeks = inp.months * WEEKS_PER_MONTH
        saving = inp.weekly_residential - inp.weekly_foster
        top = weeks * (others_placed * inp.weekly_foster + others_unmet * inp.weekly_residential)
        low = WEEKS_PER_MONTH * (others_placed * inp.weekly_foster + others_unmet * inp.weekly_residential)
        assert low - weeks * saving * out["step_down_placed"] - 1e-6 <= out["cost"]
        assert out["cost"] <= top - WEEKS_PER_MONTH * saving * out["step_down_placed"] + 1e-6
        saw_one |= out["step_down_placed"] > 0
    assert saw_one


@pytest.fixture(scope="module")
def inputs_step(history_store: tuple[Engine, Path]) -> Inputs:
    engine, _ = history_store
    scenario = Scenario.model_validate({**BASE, "levers": {"step_down": {"children": 12}}})
    with engine.connect() as conn:
        return build_inputs(conn, scenario, la_codes=["L001"])
