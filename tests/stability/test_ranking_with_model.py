"""The ranked matches use the estimate as one factor, show it with its band, and say when there is none."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matching.cli import app
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking.service import rank_households, waiting_requests
from matching.taxonomy import load_taxonomy
from tests.signed_in import signed_in_client
from tests.stability.conftest import Trained

ON = date(2026, 4, 1)


def _ranked(trained: Trained):  # type: ignore[no-untyped-def]
    with trained.engine.connect() as conn:
        pool = load_pool(conn, scope=Scope.everything(), taxonomy=load_taxonomy(), cfg=load_fit_config())
        requests = waiting_requests(conn, scope=Scope.everything(), on=ON)
    return pool, [rank_households(pool=pool, request=r, top=5) for r in requests[:25]]


def test_with_a_model_the_estimate_is_a_weighted_factor_with_a_band(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(trained.models))
    pool, results = _ranked(trained)
    assert pool.stability is not None
    assert sum(pool.cfg.weights.values()) == pytest.approx(100)
    assert pool.cfg.weights["stability"] == load_fit_config().stability.weight_when_loaded
    shown = 0
    for result in results:
        assert result.model == f"rules and stability model {trained.result.version}"
        for c in result.candidates:
            assert c.stability is not None
            est = c.stability
            assert 0 < est.p_lasting < 1
            assert 0 <= est.band_low <= est.band_high <= 1
            factor = next(f for f in c.factors if f.name == "stability")
            assert factor.value == pytest.approx(est.p_lasting)
            assert c.score == pytest.approx(sum(f.contribution for f in c.factors))
            assert "chance of lasting a year" in factor.detail
            shown += 1
        scores = [c.score for c in result.candidates]
        assert scores == sorted(scores, reverse=True) or any(c.tier == 1 for c in result.candidates)
    assert shown > 20


def test_without_a_model_the_ranking_is_rules_only_and_says_why(trained: Trained) -> None:
    pool, results = _ranked(trained)  # the test environment points at an empty models folder
    assert pool.stability is None
    assert pool.cfg.weights["stability"] == 0
    for result in results:
        assert result.model.startswith("rules only:")
        assert "matching train" in result.model
        for c in result.candidates:
            assert c.stability is None
            # The factor says why there is no estimate, in the pool's own words.
            assert next(f for f in c.factors if f.name == "stability").detail == result.model


def test_a_tampered_model_means_rules_only_not_a_crash(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    next(models.glob("stability/*/model.joblib")).write_bytes(b"not a model")
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(models))
    pool, results = _ranked(trained)
    assert pool.stability is None
    assert all(
        r.model.startswith("rules only: stability model not trusted: its digest is not recorded") for r in results
    )


def test_the_api_shows_the_estimate(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(trained.models))
    client = signed_in_client(trained.engine)
    with trained.engine.connect() as conn:
        child_id = waiting_requests(conn, scope=Scope.everything(), on=ON)[0].child.child_id
    body = client.get(f"/v1/children/{child_id}/matches", params={"on": ON.isoformat(), "top": 3}).json()
    assert body["model"].startswith("rules and stability model")
    for c in body["candidates"]:
        assert 0 < c["stability"]["p_lasting"] < 1
        assert c["stability"]["model_version"] == trained.result.version


def test_cli_train_and_evaluate(trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", str(trained.engine.url))
    runner = CliRunner()
    out = tmp_path / "models"
    done = runner.invoke(app, ["train", "--out", str(out), "--seed", "11", "--truth", str(trained.folder)])
    assert done.exit_code == 0, done.output
    assert "held-out placements" in done.output
    assert "trusted in this store (model.joblib SHA-256" in " ".join(done.output.split())
    assert "ceiling" in done.output
    res = runner.invoke(app, ["evaluate", "--models", str(out), "--out", str(tmp_path / "r"), "--json"])
    assert res.exit_code == 0, res.output
    import json

    payload = json.loads(res.output)
    assert list(payload)[:4] == ["model", "baseline", "ceiling", "groups"]
    assert set(payload["model"]) == {"roc_auc", "pr_auc", "brier", "ece"}
    assert {"attribute", "group", "n", "roc_auc", "ece", "ci_low", "ci_high"} <= set(payload["groups"][0])


def test_cli_refuses_to_train_on_too_little_history(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(trained.engine.url))
    res = CliRunner().invoke(app, ["train", "--la", "L999", "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "cannot train" in res.output
    assert "rules-only" in res.output
    assert "Traceback" not in res.output


def test_cli_evaluate_without_a_model_is_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["evaluate", "--models", str(tmp_path)])
    assert res.exit_code == 1
    assert "no stability model" in res.output
