"""Model artefacts on disk: written with their hashes, loaded only when the hash and versions match.

Layout under a models folder (``models/`` by default, ``MATCHING_MODELS_DIR`` to move it)::

    MANIFEST                         sha256 and path of every artefact file (sha256sum format)
    stability/LATEST                 the version the service loads
    stability/<version>/model.joblib
    stability/<version>/metadata.json
    stability/<version>/MODEL_CARD.md
    stability/<version>/predictions.csv.gz, reliability.png

Unpickling runs code, so :func:`load_model` reads the plain-JSON metadata first, refuses a
different scikit-learn version, then checks the model file's SHA-256 against the MANIFEST
**before** ``joblib.load`` is called.  Every refusal is an :class:`ArtefactError` with a
message a person can act on; the service then ranks on the rules alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn

from matching.paths import PROJECT_ROOT

KIND = "stability"
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ArtefactError(RuntimeError):
    """A model artefact that is missing, tampered with, or made by other library versions."""


def models_dir() -> Path:
    """The models folder: ``MATCHING_MODELS_DIR`` or the project's ``models/``."""
    return Path(os.environ.get("MATCHING_MODELS_DIR", PROJECT_ROOT / "models"))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(root: Path) -> dict[str, str]:
    """Path (relative to ``root``) to SHA-256, from ``root/MANIFEST``; empty when there is none."""
    path = root / "MANIFEST"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            out[name] = digest
    return out


def write_manifest(root: Path, entries: dict[str, str]) -> None:
    """Write ``root/MANIFEST`` (sorted by path) atomically."""
    tmp = root / "MANIFEST.tmp"
    tmp.write_text("".join(f"{d}  {p}\n" for p, d in sorted(entries.items())), encoding="utf-8")
    tmp.replace(root / "MANIFEST")


def save_model(
    root: Path,
    version: str,
    model: Any,
    metadata: dict[str, Any],
    files: dict[str, bytes],
    make_latest: bool = True,
    kind: str = KIND,
) -> Path:
    """Write a model version (model, metadata, extra files), record every hash in the MANIFEST; return its folder."""
    folder = root / kind / version
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / MODEL_FILE, compress=3)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, content in files.items():
        (folder / name).write_bytes(content)
    if make_latest:
        (root / kind / "LATEST").write_text(version + "\n", encoding="utf-8")
    entries = read_manifest(root)
    for path in sorted(folder.iterdir()):
        entries[path.relative_to(root).as_posix()] = sha256_of(path)
    write_manifest(root, entries)
    return folder


@dataclass(frozen=True)
class LoadedModel:
    """A verified model and its metadata."""

    version: str
    model: Any
    metadata: dict[str, Any]
    folder: Path


def latest_version(root: Path, kind: str = KIND) -> str:
    """The version named in ``<kind>/LATEST``."""
    path = root / kind / "LATEST"
    if not path.exists():
        hint = "matching train" + ("" if kind == KIND else f" --target {kind.replace('_', '-')}")
        raise ArtefactError(f"no {kind.replace('_', '-')} model in {root} (no {kind}/LATEST): run `{hint}`")
    return path.read_text(encoding="utf-8").strip()


def load_model(root: Path | None = None, version: str | None = None, kind: str = KIND) -> LoadedModel:
    """The verified model: metadata read, versions compared and hash checked before anything is unpickled."""
    root = models_dir() if root is None else root
    version = version or latest_version(root, kind)
    folder = root / kind / version
    meta_path, model_path = folder / METADATA_FILE, folder / MODEL_FILE
    if not meta_path.exists() or not model_path.exists():
        raise ArtefactError(
            f"stability model {version!r} is incomplete: {folder} lacks {METADATA_FILE} or {MODEL_FILE}"
        )
    manifest = read_manifest(root)
    for path in (meta_path, model_path):
        rel = path.relative_to(root).as_posix()
        expected = manifest.get(rel)
        if expected is None:
            raise ArtefactError(f"{rel} is not in {root / 'MANIFEST'}: refusing to load an unrecorded artefact")
        if sha256_of(path) != expected:
            raise ArtefactError(
                f"{rel} does not match its SHA-256 in the MANIFEST: refusing to load a changed artefact"
            )
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtefactError(f"{meta_path} is not valid JSON: {exc}") from None
    made_with = metadata.get("libraries", {}).get("scikit-learn")
    if made_with != sklearn.__version__:
        raise ArtefactError(
            f"stability model {version!r} was made with scikit-learn {made_with}, this service runs "
            f"{sklearn.__version__}: retrain with `matching train`"
        )
    model = joblib.load(model_path)
    return LoadedModel(version, model, metadata, folder)
