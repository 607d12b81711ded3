"""Sufficiency: scenario validation, reproducibility whatever the workers, Monte Carlo error, levers, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from typer.testing import CliRunner

from matching.access import Role
from matching.cli import app
from matching.sufficiency.model import Inputs, build_inputs
from matching.sufficiency.run import estimate, run_futures, summarise
from matching.sufficiency.scenario import Scenario, ScenarioError, load_scenario
from matching.sufficiency.service import run_scenario, write_outputs
from tests.signed_in import signed_in_client

BASE = {"name": "t", "area": {"las": ["L001"]}, "horizon_months": 6, "simulations": 40, "seed": 5}


@pytest.fixture(scope="module")
def inputs(history_store: tuple[Engine, Path]) -> Inputs:
    engine, _ = history_store
    with engine.connect() as conn:
        return build_inputs(conn, Scenario.model_validate(BASE), la_codes=["L001"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"horizon_months": 48}, "horizon_months"),
        ({"levers": {"recruit": [{"households": -1}]}}, "levers.recruit.0.households"),
        ({"levers": {"train": [{"households": 5, "course": "juggling"}]}}, "levers.train.0.course"),
        ({"area": {}}, "area"),
        ({"simulations": 0}, "simulations"),
    ],
)
def test_an_inconsistent_scenario_names_the_field(tmp_path: Path, change: dict, field: str) -> None:  # type: ignore[type-arg]
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, **change}))
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        load_scenario(path)


def test_the_shipped_scenarios_load() -> None:
    for path in sorted(Path("data/scenarios").glob("*.yaml")):
        assert load_scenario(path).simulations >= 100


def test_rates_come_from_the_store(inputs: Inputs) -> None:
    assert inputs.entry_rate.sum() > 0
    assert 0 < inputs.end_hazard < 0.5
    assert len(inputs.proto_band) > 100
    assert len(inputs.arc_household) > 0


def test_same_seed_same_futures_whatever_the_workers(inputs: Inputs) -> None:
    inline = run_futures(inputs, 5, 12, workers=0)
    on_dask = run_futures(inputs, 5, 12, workers=2, chunk_size=5)
    for a, b in zip(inline, on_dask, strict=True):
        assert a["demand"] == b["demand"]
        assert a["unmet"] == b["unmet"]
        assert a["cost"] == b["cost"]


def test_monte_carlo_error_halves_its_variance_when_the_futures_double(inputs: Inputs) -> None:
    small = run_futures(inputs, 11, 100, workers=0)
    large = run_futures(inputs, 12, 200, workers=0)
    se_small = estimate(np.array([f["unmet"] for f in small])).mc_error
    se_large = estimate(np.array([f["unmet"] for f in large])).mc_error
    ratio = (se_small / se_large) ** 2  # the variance of the mean: 2 in expectation
    assert 1.4 < ratio < 2.8


def test_the_summary_accounts_for_every_child(inputs: Inputs) -> None:
    futures = run_futures(inputs, 5, 20, workers=0)
    for f in futures:
        assert f["placed"] + f["unmet"] == f["demand"]
        assert f["unmet_reason"].sum() == f["unmet"]
        assert f["unmet_by_band"].sum() == f["unmet"]
    s = summarise(inputs, futures)
    assert abs(sum(s["unmet_reasons"].values()) - 1) < 0.01
    assert s["bottlenecks"]
    assert s["headline"]["unmet"]["low"] <= s["headline"]["unmet"]["mean"] <= s["headline"]["unmet"]["high"]


def test_recruiting_for_the_bottleneck_lowers_unmet_demand(history_store: tuple[Engine, Path]) -> None:
    engine, _ = history_store
    # Demand doubled so that places run short; then recruit households for any age.
    what_if = Scenario.model_validate(
        {
            **BASE,
            "simulations": 120,
            "rates": {"demand_growth": 1.0},
            "levers": {"recruit": [{"households": 60, "ages": [0, 17], "places": 3}]},
        }
    )
    with engine.connect() as conn:
        result = run_scenario(conn, what_if, workers=0)
    d = result.difference
    assert d is not None
    assert d["unmet"]["mean"] < 0
    assert d["unmet"]["mean"] + 2 * d["unmet"]["mc_error"] < 0
    assert d["cost"]["mean"] < 0


def test_outputs_and_cli(history_store: tuple[Engine, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = history_store
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**BASE, "simulations": 10}))
    with engine.connect() as conn:
        result = run_scenario(conn, load_scenario(path), workers=0)
    files = write_outputs(result, tmp_path / "out")
    assert {f.name for f in files} == {"summary.json", "futures.csv", "report.html", "bottlenecks.csv"}
    assert "Demand and supply by month" in (tmp_path / "out" / "report.html").read_text()
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    res = CliRunner().invoke(app, ["sufficiency", "--scenario", str(path), "--workers", "0", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["summary"]["futures"] == 10
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({**BASE, "area": {"las": ["NOPE"]}}))
    res = CliRunner().invoke(app, ["sufficiency", "--scenario", str(bad), "--workers", "0"])
    assert res.exit_code == 1
    assert "area.las" in res.output
    assert "Traceback" not in res.output


def test_api_runs_a_scenario_as_a_job(history_store: tuple[Engine, Path]) -> None:
    import time

    engine, _ = history_store
    client = signed_in_client(engine, Role.COMMISSIONING_LEAD)
    started = client.post("/v1/sufficiency/runs", json={**BASE, "simulations": 8})
    assert started.status_code == 202
    where = started.headers["Location"]
    for _ in range(200):
        view = client.get(where).json()
        assert 0 <= view["progress"] <= 100
        if view["status"] == "done":
            break
        time.sleep(0.05)
    assert view["status"] == "done"
    assert view["result"]["summary"]["futures"] == 8
    bad = client.post("/v1/sufficiency/runs", json={**BASE, "area": {"las": ["NOPE"]}})
    assert bad.status_code == 422
    assert "area" in json.dumps(bad.json())
    assert client.post("/v1/sufficiency/runs", json={**BASE, "horizon_months": 99}).status_code == 422
    assert client.get("/v1/sufficiency/runs/nope").status_code == 404


@pytest.mark.slow
def test_a_lost_worker_does_not_lose_the_run(inputs: Inputs) -> None:
    import os
    import threading
    import time

    from dask.distributed import Client, LocalCluster

    expected = run_futures(inputs, 9, 600, workers=0)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        got: list[list[dict]] = []  # type: ignore[type-arg]
        runner = threading.Thread(
            target=lambda: got.append(run_futures(inputs, 9, 600, scheduler=cluster.scheduler_address, chunk_size=4))
        )
        runner.start()
        time.sleep(0.7)
        assert runner.is_alive(), "the run finished before a worker could be lost: make it longer"
        with Client(cluster.scheduler_address) as client:
            victim = sorted(client.scheduler_info()["workers"])[0]
            client.run(lambda: os._exit(1), workers=[victim], nanny=False, on_error="ignore")
        runner.join(timeout=120)
        assert got, "the run did not finish after a worker was lost"
        assert [f["unmet"] for f in got[0]] == [f["unmet"] for f in expected]
    finally:
        cluster.close()


def test_a_run_that_fails_half_way_writes_nothing(
    history_store: tuple[Engine, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matching.sufficiency.run as run_module

    engine, _ = history_store
    calls = {"n": 0}
    real = run_module.simulate

    def flaky(inp, seed):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(inp, seed)

    monkeypatch.setattr(run_module, "simulate", flaky)
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**BASE, "simulations": 20}))
    out = tmp_path / "out"
    CliRunner().invoke(app, ["sufficiency", "--scenario", str(path), "--workers", "0", "--out", str(out)])
    assert calls["n"] == 6, "the run started and stopped half way"
    assert not out.exists() or not any(out.iterdir())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 60))
def test_each_months_placements_are_the_allocation_engines_first_come_first_served(
    inputs: Inputs, seed: int, n: int
) -> None:
    """The array version gives exactly what the engine's baseline gives on the same month."""
    from dataclasses import replace
    from datetime import date, timedelta

    from matching.allocation.baselines import first_come_first_served
    from matching.allocation.instance import AllocationInstance, Arc, HouseholdRoom
    from matching.sufficiency.simulate import _allocate

    rng = np.random.default_rng(seed)
    protos = list(rng.integers(0, len(inputs.proto_band), size=n))
    h = len(inputs.household_ids)
    open_ = rng.random(h) < 0.9
    vac = rng.integers(0, 3, size=h)
    occ = rng.integers(0, 3, size=h)
    usual = np.maximum(0, 3 - occ)
    month = int(rng.integers(0, inputs.months))
    placed, _ = _allocate(inputs, protos, open_, vac.copy(), usual.copy(), occ.copy(), month)
    rooms = [
        HouseholdRoom(inputs.household_ids[i], "", int(vac[i]), int(usual[i]), bool(occ[i] == 0)) for i in range(h)
    ]
    units, arcs = [], []
    for j, p in enumerate(protos):
        units.append(
            replace(inputs.proto_units[p], unit_id=f"u{j:04d}", referral_date=date(2026, 1, 1) + timedelta(days=j))
        )
        lo, hi = inputs.arc_start[p], inputs.arc_start[p + 1]
        for a in range(lo, hi):
            hh = int(inputs.arc_household[a])
            if inputs.arc_covered[month // 3, a] and open_[hh]:
                arcs.append(Arc(j, hh, float(inputs.arc_score[a]), float(inputs.arc_miles[a])))
    engine = first_come_first_served(AllocationInstance(units, rooms, arcs))
    assert {j: h for j, (h, _) in placed.items()} == {u: arcs[k].household for u, k in engine.items()}
