"""A model is unpickled only when the store (or the deployment) trusts its digests; a MANIFEST beside it proves
nothing.  Tried on copies of the shipped models over the small synthetic store, without training anything."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from matching.access import Actor
from matching.cli import app
from matching.domain import Scope
from matching.paths import PROJECT_ROOT
from matching.stability.artefact import load_model, read_manifest, sha256_of, write_manifest
from matching.stability.card import LOADING
from matching.stability.scorer import load_scorer, model_status
from matching.stability.trust import ENV, TrustError, UntrustedArtefactError, records, revoke, trust
from matching.stepdown.assess import assess_cohort
from matching.store import schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from matching.taxonomy import load_taxonomy
from tests.signed_in import signed_in_client

ADMIN = Actor.system("cli:tester")
ON = "2026-04-01"
CHILD = "L001-C00002"  # waiting in the small synthetic authority (tests/api)


@pytest.fixture(scope="module")
def small_store(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic authority imported once (read-only: tests use a copy)."""
    db = tmp_path_factory.mktemp("trust") / "store.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    import_folder(engine, small_folder)
    engine.dispose()
    return db


@pytest.fixture
def store(small_store: Path, tmp_path: Path) -> Iterator[Engine]:
    """A private copy of the small store, whose trusted models a test may change."""
    db = tmp_path / "store.db"
    source, copy = sqlite3.connect(small_store), sqlite3.connect(db)
    source.backup(copy)
    source.close()
    copy.close()
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A private copy of the shipped models folder."""
    dest = tmp_path / "models"
    shutil.copytree(PROJECT_ROOT / "models", dest)
    return dest


@pytest.fixture
def cli_env(store: Engine, models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI and the service on the private store and models folder."""
    monkeypatch.setenv("DATABASE_URL", str(store.url))
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(models))
    monkeypatch.delenv(ENV, raising=False)
    return models


def _folder(models: Path, kind: str = "stability") -> Path:
    return models / kind / (models / kind / "LATEST").read_text().strip()


def _trust_shipped(engine: Engine, models: Path) -> None:
    with engine.begin() as conn:
        for kind in ("stability", "step_down"):
            trust(conn, _folder(models, kind), actor=ADMIN, note="tests")


class _WritesAFile:
    """A pickle whose loading writes a marker file: what a planted artefact could do (and worse)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.target, "pwned"))


def _plant(models: Path, kind: str, marker: Path) -> None:
    """Replace a trusted model with a planted pickle, and rewrite the MANIFEST beside it to match."""
    planted = _folder(models, kind) / "model.joblib"
    joblib.dump(_WritesAFile(marker), planted)
    manifest = read_manifest(models)
    manifest[planted.relative_to(models).as_posix()] = sha256_of(planted)
    write_manifest(models, manifest)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# --- a planted pickle is never unpickled --------------------------------------------------------------------


def test_evaluate_refuses_a_planted_model_in_one_line(cli_env: Path, store: Engine, tmp_path: Path) -> None:
    _trust_shipped(store, cli_env)
    marker = tmp_path / "marker"
    _plant(cli_env, "stability", marker)
    res = CliRunner().invoke(app, ["evaluate", "--models", str(cli_env), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert not marker.exists(), "evaluate must never unpickle an untrusted model"
    said = " ".join(res.output.split())
    assert said.startswith("error: stability model not trusted: its digest is not recorded in this store")
    assert "matching models trust" in said
    assert "Traceback" not in res.output


def test_the_api_never_unpickles_a_planted_model_and_says_why(cli_env: Path, store: Engine, tmp_path: Path) -> None:
    _trust_shipped(store, cli_env)
    marker = tmp_path / "marker"
    _plant(cli_env, "stability", marker)
    with store.connect() as conn:
        scorer, why = load_scorer(conn, scope=Scope.everything(), taxonomy=load_taxonomy())
    assert scorer is None
    assert why.startswith("stability model not trusted: its digest is not recorded in this store")
    client = signed_in_client(store)
    body = client.get(f"/v1/children/{CHILD}/matches", params={"on": ON, "top": 3}).json()
    assert body["model"] == f"rules only: {why}"
    assert body["candidates"]
    assert all(c["stability"] is None for c in body["candidates"])
    page = signed_in_client(store, pages=True).get(f"/pages/children/{CHILD}/matches", params={"on": ON})
    assert page.status_code == 200
    assert "stability model not trusted" in page.text
    assert not marker.exists(), "the service must never unpickle an untrusted model"


def test_step_down_never_unpickles_a_planted_model_and_names_itself(
    cli_env: Path, store: Engine, tmp_path: Path
) -> None:
    _trust_shipped(store, cli_env)
    marker = tmp_path / "marker"
    _plant(cli_env, "step_down", marker)
    with store.connect() as conn:
        cohort = assess_cohort(conn, scope=Scope.everything())
    assert cohort.model_note.startswith(
        "readiness is rules-only: step-down model not trusted: its digest is not recorded in this store"
    )
    body = signed_in_client(store).get("/v1/step-down").json()
    assert body["model"] == cohort.model_note
    assert all(c["p_success"] is None for a in body["children"] for c in a["candidates"])
    assert not marker.exists(), "step-down must never unpickle an untrusted model"


def test_a_planted_model_with_planted_metadata_is_refused_too(cli_env: Path, store: Engine, tmp_path: Path) -> None:
    _trust_shipped(store, cli_env)
    marker = tmp_path / "marker"
    _plant(cli_env, "stability", marker)
    meta = _folder(cli_env) / "metadata.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "note": "planted"}))
    with store.connect() as conn, pytest.raises(UntrustedArtefactError, match="not recorded in this store"):
        load_model(cli_env, conn=conn)
    assert not marker.exists()


# --- trusted, revoked, changed ------------------------------------------------------------------------------


def test_a_trusted_model_loads_and_the_service_shows_its_estimate(cli_env: Path, store: Engine) -> None:
    res = CliRunner().invoke(app, ["models", "trust", str(cli_env)])
    assert res.exit_code == 0, res.output
    assert res.output.count("trusted: ") == 2
    assert "step-down model" in res.output
    again = CliRunner().invoke(app, ["models", "trust", str(cli_env)])
    assert again.exit_code == 0
    assert again.output.count("already trusted") == 2
    with store.connect() as conn:
        loaded = load_model(cli_env, conn=conn)
        assert hasattr(loaded.model, "predict_unplanned")
        assert len(records(conn)) == 2
    body = signed_in_client(store).get(f"/v1/children/{CHILD}/matches", params={"on": ON, "top": 3}).json()
    assert body["model"] == f"rules and stability model {loaded.version}"
    assert all(c["stability"] is not None for c in body["candidates"])
    listed = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"stability model {loaded.version}: in use (trusted in this store by cli:" in listed.output


def test_a_revoked_model_is_refused_everywhere_until_reinstated(cli_env: Path, store: Engine) -> None:
    _trust_shipped(store, cli_env)
    client = signed_in_client(store)
    params = {"on": ON, "top": 3}
    assert client.get(f"/v1/children/{CHILD}/matches", params=params).json()["model"].startswith("rules and")
    version = _folder(cli_env).name
    res = CliRunner().invoke(app, ["models", "revoke", version])
    assert res.exit_code == 0, res.output
    assert f"revoked: stability model {version}" in res.output
    with store.connect() as conn, pytest.raises(UntrustedArtefactError, match="was revoked in this store on "):
        load_model(cli_env, conn=conn)
    time.sleep(1.1)  # the running service checks the store's trusted models once a second
    body = client.get(f"/v1/children/{CHILD}/matches", params=params).json()
    assert body["model"].startswith(f"rules only: stability model not trusted: {version!r} was revoked")
    refused = CliRunner().invoke(app, ["models", "trust", str(_folder(cli_env))])
    assert refused.exit_code == 1
    assert "--reinstate" in refused.output
    back = CliRunner().invoke(app, ["models", "trust", str(_folder(cli_env)), "--reinstate"])
    assert back.exit_code == 0, back.output
    with store.connect() as conn:
        assert load_model(cli_env, conn=conn).version == version
        actions = [r.action for r in conn.execute(select(schema.audit_entry.c.action))]
    assert actions.count("model.trust") == 3
    assert actions.count("model.revoke") == 1
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0


def test_a_changed_byte_is_refused(models: Path, store: Engine) -> None:
    _trust_shipped(store, models)
    model = _folder(models) / "model.joblib"
    _flip_a_byte(model)
    with store.connect() as conn, pytest.raises(UntrustedArtefactError, match="not recorded in this store"):
        load_model(models, conn=conn)
    shutil.copy2(PROJECT_ROOT / "models" / model.relative_to(models), model)
    meta = _folder(models) / "metadata.json"
    meta.write_text(meta.read_text().replace('"seed": 2024', '"seed": 2025', 1))
    with store.connect() as conn, pytest.raises(UntrustedArtefactError, match=r"metadata\.json has changed"):
        load_model(models, conn=conn)


def test_trust_refuses_a_damaged_copy_and_an_unexpected_digest(models: Path, store: Engine) -> None:
    folder = _folder(models)
    with store.begin() as conn, pytest.raises(TrustError, match=r"SHA-256 \w+, not the 00"):
        trust(conn, folder, actor=ADMIN, note="tests", expect="00" * 32)
    _flip_a_byte(folder / "model.joblib")  # the MANIFEST still lists the shipped bytes: an accident, caught
    with store.begin() as conn, pytest.raises(TrustError, match="does not match its SHA-256 in the MANIFEST"):
        trust(conn, folder, actor=ADMIN, note="tests")
    with store.connect() as conn:
        assert records(conn) == []


def test_revoke_names_what_is_trusted(models: Path, store: Engine) -> None:
    _trust_shipped(store, models)
    digest = sha256_of(_folder(models, "step_down") / "model.joblib")
    with store.begin() as conn:
        with pytest.raises(TrustError, match="nothing trusted"):
            revoke(conn, "no-such-version", actor=ADMIN)
        gone = revoke(conn, digest[:12], actor=ADMIN)
    assert [(r.kind, r.model_sha256) for r in gone] == [("step_down", digest)]


# --- the deployment's configuration, and what the service says at start-up ---------------------------------------


def test_digests_configured_for_a_read_only_store(models: Path, store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(models)
    digests = [sha256_of(folder / "model.joblib"), sha256_of(folder / "metadata.json")]
    monkeypatch.setenv(ENV, digests[0])  # the model alone is not enough: its metadata decides what is shown
    with pytest.raises(UntrustedArtefactError, match=f"not recorded in this store or {ENV}"):
        load_model(models, conn=None)
    monkeypatch.setenv(ENV, ", ".join(digests).upper())
    assert load_model(models, conn=None).version == folder.name
    with store.connect() as conn:
        assert load_model(models, conn=conn).version == folder.name
    with store.begin() as conn:  # revoked in the store: refused even though configured
        trust(conn, folder, actor=ADMIN, note="tests")
        revoke(conn, folder.name, actor=ADMIN)
    with store.connect() as conn, pytest.raises(UntrustedArtefactError, match="revoked"):
        load_model(models, conn=conn)
    monkeypatch.setenv(ENV, "not-a-digest")
    with pytest.raises(UntrustedArtefactError, match=f"{ENV} holds 'not-a-digest'"):
        load_model(models, conn=None)


def test_serve_says_for_each_model_whether_it_is_used_and_why_not(
    cli_env: Path, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    with store.begin() as conn:
        trust(conn, _folder(cli_env), actor=ADMIN, note="tests")
    marker = tmp_path / "marker"
    _plant(cli_env, "step_down", marker)
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: None)
    res = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["serve"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert any(
        line.startswith(f"stability model {_folder(cli_env).name}: in use (trusted in this store") for line in lines
    )
    assert any(
        line.startswith("step-down model: not loaded, readiness is rules-only: step-down model not trusted: its digest")
        for line in lines
    )
    assert not marker.exists()
    with store.connect() as conn:
        assert set(model_status(conn, taxonomy=load_taxonomy())) <= set(lines)


def test_the_model_cards_say_how_a_model_comes_to_be_loaded(models: Path) -> None:
    for card in models.glob("*/*/MODEL_CARD.md"):
        assert "\n".join(LOADING) in card.read_text()
    assert (
        sha256_of(_folder(models) / "model.joblib")
        == read_manifest(models)[f"stability/{_folder(models).name}/model.joblib"]
    )
