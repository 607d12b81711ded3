"""The gate: a learned estimate is shown only while its held-out advantage over the rules-only score is shown
to be above zero; otherwise every surface withholds it and says why, in the same words."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from matching.cli import app
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking.service import rank_households, waiting_requests
from matching.stability import gate
from matching.stability.artefact import load_model
from matching.stability.scorer import load_scorer
from matching.taxonomy import load_taxonomy
from tests.signed_in import signed_in_client
from tests.stability.conftest import Trained

ON = date(2026, 4, 1)


def _meta(difference: float, lo: float, hi: float, kind: str = "stability") -> dict[str, object]:
    return {
        "kind": kind,
        "metrics": {"model_minus_baseline_auc": {"difference": difference, "ci_low": lo, "ci_high": hi}},
    }


def test_an_advantage_not_shown_above_zero_is_withheld_and_says_so() -> None:
    d = gate.decide(_meta(0.004, -0.010, 0.018))
    assert not d.shown
    assert d.reason == (
        "stability estimate withheld: on held-out placements its advantage over the rules-only score was +0.004 "
        "(95% interval \u22120.010 to +0.018), not shown to be above zero"
    )


@pytest.mark.parametrize(("lo", "shown"), [(-0.2, False), (0.0, False), (0.0001, True), (0.05, True)])
def test_the_lower_end_of_the_interval_decides(lo: float, shown: bool) -> None:
    assert gate.decide(_meta(lo + 0.02, lo, lo + 0.04)).shown is shown


def test_step_down_is_named_and_missing_metrics_are_withheld() -> None:
    assert gate.decide(_meta(0.1, -0.1, 0.3, "step_down")).reason.startswith("step-down estimate withheld")
    missing = gate.decide({"kind": "stability", "metrics": {}})
    assert not missing.shown
    assert "retrain" in missing.reason


def test_a_model_that_beats_the_rules_is_used_and_its_metadata_says_shown(trained: Trained) -> None:
    meta = trained.result.metadata
    assert meta["metrics"]["model_minus_baseline_auc"]["ci_low"] > 0
    assert meta["gate"]["shown"] is True
    assert meta["gate"] == gate.decide(meta).as_dict()
    assert "**Shown to users.**" in (trained.result.folder / "MODEL_CARD.md").read_text()
    with trained.engine.connect() as conn:
        scorer, why = load_scorer(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), root=trained.models)
    assert scorer is not None
    assert why == f"stability model {trained.result.version}"


def test_a_model_trained_on_noise_is_recorded_as_withheld(noise_trained: Trained) -> None:
    meta = noise_trained.result.metadata
    diff = meta["metrics"]["model_minus_baseline_auc"]
    assert diff["ci_low"] <= 0 < diff["ci_high"]
    assert meta["gate"]["shown"] is False
    assert meta["gate"]["reason"].startswith("stability estimate withheld: on held-out placements")
    card = (noise_trained.result.folder / "MODEL_CARD.md").read_text()
    assert "**Withheld from users.**" in card
    # A real, verified artefact: it loads (hashes checked), and only the gate keeps it out of service.
    with noise_trained.engine.connect() as conn:
        assert load_model(noise_trained.models, conn=conn).version == noise_trained.result.version
        scorer, why = load_scorer(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), root=noise_trained.models)
    assert scorer is None
    assert why == meta["gate"]["reason"]


def test_matching_with_a_withheld_model_is_rules_only_and_says_why(
    noise_trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(noise_trained.models))
    reason = noise_trained.result.metadata["gate"]["reason"]
    with noise_trained.engine.connect() as conn:
        pool = load_pool(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), cfg=load_fit_config())
        requests = waiting_requests(conn, scope=Scope.everything(), on=ON)
    assert pool.stability is None
    assert pool.cfg.weights["stability"] == 0
    assert pool.model_note == f"rules only: {reason}"
    for req in requests[:10]:
        result = rank_households(pool=pool, request=req, top=5)
        assert result.model == f"rules only: {reason}"
        for c in result.candidates:
            assert c.stability is None
            factor = next(f for f in c.factors if f.name == "stability")
            assert factor.contribution == 0
            assert factor.detail == f"rules only: {reason}"  # not "no stability model loaded"


def test_the_api_and_the_cli_say_the_estimate_is_withheld(
    noise_trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(noise_trained.models))
    monkeypatch.setenv("DATABASE_URL", str(noise_trained.engine.url))
    reason = noise_trained.result.metadata["gate"]["reason"]
    with noise_trained.engine.connect() as conn:
        child_id = waiting_requests(conn, scope=Scope.everything(), on=ON)[0].child.child_id
    client = signed_in_client(noise_trained.engine)
    body = client.get(f"/v1/children/{child_id}/matches", params={"on": ON.isoformat(), "top": 3}).json()
    assert body["model"] == f"rules only: {reason}"
    assert body["candidates"]
    assert all(c["stability"] is None for c in body["candidates"])
    pages = signed_in_client(noise_trained.engine, pages=True)
    page = pages.get(f"/pages/children/{child_id}/matches", params={"on": ON.isoformat()})
    assert page.status_code == 200
    assert "stability estimate withheld" in page.text
    res = CliRunner().invoke(app, ["match", "--child", child_id, "--on", ON.isoformat(), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["model"] == f"rules only: {reason}"
    shown = CliRunner().invoke(app, ["match", "--child", child_id, "--on", ON.isoformat(), "--top", "3"])
    assert "stability estimate withheld" in " ".join(shown.output.split())
