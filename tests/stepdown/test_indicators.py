"""Each readiness indicator at its boundaries, missing data as "not known", and the stages."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from matching.stepdown.assess import blockers_and_actions, stage_of
from matching.stepdown.config import StepDownConfigError, load_readiness
from matching.stepdown.indicators import IndicatorResult, Records, evaluate
from tests.factories import make_child

ON = date(2026, 4, 1)  # the day after March: February's record is the latest due (returns_lag_months 1)
CFG = load_readiness()


def month_rows(n: int = 6, last: str = "2026-02", **over: Any) -> list[dict[str, Any]]:
    """``n`` calm monthly records ending at ``last``; ``over`` maps a column to a list (oldest first)."""
    y, m = (int(x) for x in last.split("-"))
    rows = []
    for k in range(n):
        mm = m - (n - 1 - k)
        yy = y + (mm - 1) // 12
        mm = (mm - 1) % 12 + 1
        row = {
            "month": date(yy, mm, 1), "physical_aggression": 0, "self_harm": 0, "missing": 0, "police": 0,
            "restraints": 0, "attendance": 95.0, "exclusion_days": 0, "staffing": "ordinary",
            "therapy_engagement": "full", "trusted_adult": True, "family_time": "positive", "sdq": None,
            "wishes": "wants_family", "care_plan_goal": "foster",
        }  # fmt: skip
        for key, values in over.items():
            row[key] = values[k]
        rows.append(row)
    rows[-1]["sdq"] = rows[-1]["sdq"] if "sdq" in over else 12
    return rows


def run(rows: list[dict[str, Any]] | None, **child: Any) -> dict[str, IndicatorResult]:
    kid = make_child(place="K2", placement_start=child.pop("placement_start", date(2025, 1, 1)), **child)
    results, _ = evaluate(kid, None if rows is None else Records.from_rows(rows), ON, CFG)
    return {r.name: r for r in results}


def test_a_settled_child_meets_every_indicator() -> None:
    res = run(month_rows())
    assert {r.status for r in res.values()} == {"met"}
    assert stage_of(list(res.values()), CFG, False) == ("ready_to_start_matching", 100)
    assert stage_of(list(res.values()), CFG, True)[0] == "in_transition"


@pytest.mark.parametrize(("incidents", "status"), [([0, 0, 0, 0, 1, 1], "met"), ([0, 0, 0, 1, 1, 1], "not_met")])
def test_incidents_boundary_is_two_in_three_months(incidents: list[int], status: str) -> None:
    res = run(month_rows(physical_aggression=incidents))
    assert res["incidents"].status == status


def test_incidents_trend_is_reported() -> None:
    res = run(month_rows(physical_aggression=[6, 5, 3, 1, 0, 0]))
    assert res["incidents"].trend == "falling"


def test_one_missing_episode_last_month_asks_for_three_more_months() -> None:
    res = run(month_rows(missing=[0, 0, 0, 0, 0, 1]))
    assert res["missing"].status == "not_met"
    assert res["missing"].action == "Three more months without missing episodes"
    res = run(month_rows(missing=[0, 0, 1, 0, 0, 0]))  # four months ago: outside the window
    assert res["missing"].status == "met"


@pytest.mark.parametrize(("months", "status"), [(5.5, "not_met"), (6.2, "met")])
def test_stability_needs_six_months_in_the_home(months: float, status: str) -> None:
    start = date.fromordinal(ON.toordinal() - int(months * 30.44))
    res = run(month_rows(), placement_start=start)
    assert res["stability"].status == status


def test_an_absent_sdq_is_not_known_never_zero() -> None:
    res = run(month_rows(sdq=[None] * 6))
    assert res["sdq"].status == "not_known"
    assert res["sdq"].action is not None
    assert "SDQ" in res["sdq"].action


@pytest.mark.parametrize(
    ("scores", "status"),
    [
        ([None, None, None, None, None, 16], "met"),
        ([None] * 5 + [17], "not_met"),
        ([22, None, None, None, None, 19], "met"),
    ],
)
def test_sdq_below_concern_or_falling(scores: list[int | None], status: str) -> None:
    assert run(month_rows(sdq=scores))["sdq"].status == status


def test_staffing_above_ordinary_in_the_window_blocks() -> None:
    res = run(month_rows(staffing=["ordinary"] * 5 + ["one_to_one"]))
    assert res["supervision"].status == "not_met"
    assert res["supervision"].required


def test_attendance_and_exclusions() -> None:
    assert run(month_rows(attendance=[95, 95, 95, 84, 84, 84]))["education"].status == "not_met"
    assert run(month_rows(exclusion_days=[0, 0, 0, 0, 0, 1]))["education"].status == "not_met"
    assert run(month_rows(attendance=[None] * 6))["education"].status == "not_known"


def test_no_records_means_not_known_and_not_ready() -> None:
    res = run(None)
    for name in ("incidents", "missing", "sdq", "education", "supervision", "therapy"):
        assert res[name].status == "not_known"
    assert stage_of(list(res.values()), CFG, False)[0] == "not_yet_ready"


def test_stale_records_are_flagged_first_after_the_plan_and_wishes() -> None:
    kid = make_child(place="K2", placement_start=date(2024, 1, 1))
    results, stale = evaluate(kid, Records.from_rows(month_rows(last="2025-10")), ON, CFG)
    assert stale is not None
    assert "2025-10" in stale
    blockers, actions = blockers_and_actions(results, stale)
    assert blockers[0].startswith("Records out of date")
    assert actions[0] == "Ask the home for its monthly progress records"


@pytest.mark.parametrize(
    ("over", "first"),
    [
        ({"care_plan_goal": ["stay_residential"] * 6}, "Care plan: stay residential"),
        ({"wishes": ["wants_to_stay"] * 6}, "The child says they want to stay"),
    ],
)
def test_a_plan_to_stay_or_a_child_who_wants_to_stay_is_never_ready_and_shown_first(
    over: dict[str, list[str]], first: str
) -> None:
    res = run(month_rows(**over))
    stage, score = stage_of(list(res.values()), CFG, False)
    assert stage == "building_readiness"
    assert score >= 75
    blockers, _ = blockers_and_actions(list(res.values()), None)
    assert blockers[0].startswith(first)


def test_an_unsure_child_is_shown_and_not_overridden() -> None:
    res = run(month_rows(wishes=["unsure"] * 6))
    assert res["wishes"].status == "not_met"
    assert "unsure" in res["wishes"].value


def test_a_config_whose_weights_do_not_add_up_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (
        (load_readiness.__globals__["READINESS_PATH"])
        .read_text()
        .replace("weight: 15\n    required: true\n  wishes", "weight: 16\n    required: true\n  wishes", 1)
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(StepDownConfigError, match="add up to 100"):
        load_readiness(path)
