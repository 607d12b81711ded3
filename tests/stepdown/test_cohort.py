"""The cohort on generated data: the improving children are found, the plan and the child's voice come first,
candidates and costs are there, and the CLI, the API and the report show it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from matching.cli import app
from matching.domain import Scope
from matching.stepdown.assess import STAGES, Cohort, assess_cohort
from matching.stepdown.config import load_costs
from matching.stepdown.report import CSV_COLUMNS, cohort_csv, cohort_html
from tests.signed_in import signed_in_client

READY = {"ready_to_start_matching", "in_transition"}


@pytest.fixture(scope="module")
def cohort(history_store: tuple[Engine, Path]) -> Cohort:
    engine, _ = history_store
    with engine.connect() as conn:
        return assess_cohort(conn, scope=Scope.everything())


def test_every_child_in_a_home_is_assessed(history_store: tuple[Engine, Path], cohort: Cohort) -> None:
    _, folder = history_store
    children = pd.read_csv(folder / "children.csv")
    in_homes = set(children.loc[children.place == "K2", "child_id"])
    assessed = {a.child_id for a in cohort.children if a.stage != "stepped_down"}
    assert assessed == in_homes
    assert set(cohort.counts()) == set(STAGES)


def test_improving_children_are_flagged_ready_with_precision_and_recall_of_at_least_0_9(
    history_store: tuple[Engine, Path], cohort: Cohort
) -> None:
    _, folder = history_store
    truth = pd.read_csv(folder / "truth" / "stepdown_truth.csv").set_index("child_id")["path"]
    flagged = {a.child_id for a in cohort.children if a.stage in READY}
    improving = set(truth[truth == "improving"].index)
    hit = len(flagged & improving)
    assert hit / len(flagged) >= 0.9
    assert hit / len(improving) >= 0.9


def test_no_child_who_should_stay_is_ready_and_the_reason_is_shown_first(cohort: Cohort) -> None:
    checked = 0
    for a in cohort.children:
        if a.stage == "stepped_down":
            continue
        by = {i.name: i for i in a.indicators}
        plan_not_family = by["care_plan"].status != "met"
        wants_to_stay = by["wishes"].value.endswith("wants to stay where they are")
        if plan_not_family or wants_to_stay:
            checked += 1
            assert a.stage not in READY
            first = a.blockers[0]
            assert first.startswith("Care plan") if plan_not_family else first.startswith("The child says")
    assert checked > 20


def test_ready_children_have_families_costs_and_plans(cohort: Cohort) -> None:
    costs = load_costs()
    ready = [a for a in cohort.children if a.stage in READY]
    assert ready
    with_options = [a for a in ready if a.candidates]
    assert len(with_options) >= 0.8 * len(ready)
    for a in with_options:
        assert a.weekly_cost_now == costs.residential(a.place)
        assert a.weekly_cost_candidate == a.candidates[0].weekly_cost
        assert a.annual_saving == pytest.approx((a.weekly_cost_now - a.weekly_cost_candidate) * 52)
        for c in a.candidates:
            if c.kind == "foster":
                assert c.household_id is not None
                assert c.score is not None
    totals = cohort.costs()
    assert totals["annual_difference"] == round(sum(a.annual_saving or 0 for a in cohort.children))


def test_children_not_ready_get_next_actions(cohort: Cohort) -> None:
    for a in cohort.children:
        if a.stage in ("not_yet_ready", "building_readiness"):
            assert a.blockers
            assert a.actions


def test_same_data_same_cohort(history_store: tuple[Engine, Path], cohort: Cohort) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        again = assess_cohort(conn, scope=Scope.everything())
    assert [a.as_dict() for a in again.children] == [a.as_dict() for a in cohort.children]


def test_csv_and_report(cohort: Cohort) -> None:
    text = cohort_csv(cohort)
    frame = pd.read_csv(__import__("io").StringIO(text))
    assert list(frame.columns) == list(CSV_COLUMNS)
    assert len(frame) == len(cohort.children)
    html = cohort_html(cohort)
    assert "Cohort by stage" in html
    assert 'role="img"' in html
    for child in cohort.children[:5]:
        assert child.child_id in html


def test_cli_json_has_the_issue_keys(
    history_store: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine, _ = history_store
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    res = CliRunner().invoke(
        app, ["step-down", "--json", "--csv", str(tmp_path / "c.csv"), "--report", str(tmp_path / "r.html")]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert {"child_id", "stage", "indicators", "blockers", "actions", "candidates", "weekly_cost_now",
            "weekly_cost_candidate"} <= set(payload[0])  # fmt: skip
    assert (tmp_path / "c.csv").exists()
    assert (tmp_path / "r.html").exists()
    bad = CliRunner().invoke(app, ["step-down", "--stage", "sideways"])
    assert bad.exit_code == 1
    assert "not one of" in bad.output
    nobody = CliRunner().invoke(app, ["step-down", "--child", "NOPE"])
    assert nobody.exit_code == 1
    assert "Traceback" not in nobody.output


def test_api_cohort_and_child(history_store: tuple[Engine, Path], cohort: Cohort) -> None:
    engine, _ = history_store
    client = signed_in_client(engine)
    body = client.get("/v1/step-down", params={"stage": "ready_to_start_matching"}).json()
    assert body["assessed_on"] == cohort.assessed_on.isoformat()
    assert body["counts"] == cohort.counts()
    assert all(c["stage"] == "ready_to_start_matching" for c in body["children"])
    one = body["children"][0]["child_id"]
    child = client.get(f"/v1/children/{one}/step-down").json()
    assert child["child_id"] == one
    assert child["stage"] == "ready_to_start_matching"
    assert client.get("/v1/children/NOPE/step-down").status_code == 404
    assert client.get("/v1/step-down", params={"stage": "sideways"}).status_code == 422
    assert client.get("/v1/step-down", params={"on": "0"}).status_code == 422
    assert client.get("/v1/step-down", params={"on": "0001-01-01"}).status_code == 422  # Schemathesis found a 500
    assert signed_in_client(engine, pages=True).get("/pages/step-down").status_code == 200
