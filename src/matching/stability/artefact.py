"""Model artefacts on disk: written with their hashes, loaded only when the store (or the deployment) trusts them.

Layout under a models folder (``models/`` by default, ``MATCHING_MODELS_DIR`` to move it)::

    MANIFEST                         sha256 and path of every artefact file (sha256sum format)
    stability/LATEST                 the version the service loads
    stability/<version>/model.joblib
    stability/<version>/metadata.json
    stability/<version>/MODEL_CARD.md
    stability/<version>/predictions.csv.gz, reliability.png

Unpickling runs code, and the MANIFEST sits beside the model: whoever can rewrite one can rewrite the other,
so it catches accidents only (``sha256sum -c MANIFEST``; ``matching models trust`` checks it too).  What decides
whether a model is loaded is :mod:`matching.stability.trust`: :func:`verify_model` reads ``model.joblib`` and
``metadata.json`` once, checks their SHA-256 against the digests trusted in the store (or configured), then the
scikit-learn version; only :meth:`VerifiedArtefact.load` unpickles, and it unpickles the very bytes that were
checked.  Every refusal is an :class:`ArtefactError` with a message a person can act on; the service then ranks
on the rules alone.

This module imports joblib only to write or to unpickle, so the trust checks stay cheap to import.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from matching.paths import PROJECT_ROOT

KIND = "stability"
KINDS = ("stability", "step_down")
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ArtefactError(RuntimeError):
    """A model artefact that is missing, untrusted, tampered with, or made by other library versions."""


def label(kind: str) -> str:
    """How people name a kind of model: ``stability``, ``step-down``."""
    return kind.replace("_", "-")


def models_dir() -> Path:
    """The models folder: ``MATCHING_MODELS_DIR`` or the project's ``models/``."""
    return Path(os.environ.get("MATCHING_MODELS_DIR", PROJECT_ROOT / "models"))


def sha256_bytes(content: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(content).hexdigest()


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
    """Write a model version (model, metadata, extra files), record every hash in the MANIFEST; return its folder.

    Writing does not make it trusted: ``matching train`` records it in the store it trained from
    (:func:`matching.stability.trust.trust`)."""
    import joblib

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


@dataclass(frozen=True)
class VerifiedArtefact:
    """An artefact whose files are trusted and whose versions match, not yet unpickled."""

    kind: str
    version: str
    folder: Path
    metadata: dict[str, Any]
    #: How it is trusted, in words (who recorded it in the store and when, or the configuration).
    trusted: str
    model_bytes: bytes = field(repr=False)

    def load(self) -> LoadedModel:
        """Unpickle the checked bytes (never the file again, which may have changed since)."""
        import joblib

        try:
            model = joblib.load(io.BytesIO(self.model_bytes))
        except Exception as exc:  # a trusted file that does not unpickle here: rules-only, with a reason
            raise ArtefactError(
                f"{label(self.kind)} model {self.version!r} could not be read ({exc.__class__.__name__}): retrain it"
            ) from None
        return LoadedModel(self.version, model, self.metadata, self.folder)


def latest_version(root: Path, kind: str = KIND) -> str:
    """The version named in ``<kind>/LATEST``."""
    path = root / kind / "LATEST"
    if not path.exists():
        hint = "matching train" + ("" if kind == KIND else f" --target {label(kind)}")
        # Said to API clients and on pages too: the models folder by name, never its path on the server.
        raise ArtefactError(f"no {label(kind)} model in the models folder (no {kind}/LATEST): run `{hint}`")
    return path.read_text(encoding="utf-8").strip()


def verify_model(
    root: Path | None = None, version: str | None = None, kind: str = KIND, *, conn: Connection | None
) -> VerifiedArtefact:
    """The artefact, read once and checked: trusted in the store behind ``conn`` (or by the deployment's
    configuration, :mod:`matching.stability.trust`), made with this scikit-learn.  Nothing is unpickled."""
    from matching.stability import trust

    root = models_dir() if root is None else root
    version = version or latest_version(root, kind)
    folder = root / kind / version
    meta_path, model_path = folder / METADATA_FILE, folder / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise ArtefactError(
            f"{label(kind)} model {version!r} is incomplete: its folder lacks {METADATA_FILE} or {MODEL_FILE}"
        )
    model_bytes, meta_bytes = model_path.read_bytes(), meta_path.read_bytes()
    digests = trust.Digests(sha256_bytes(model_bytes), sha256_bytes(meta_bytes))
    how = trust.check(conn, kind=kind, version=version, folder=folder, digests=digests)
    try:
        metadata = json.loads(meta_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtefactError(f"{meta_path} is not valid JSON: {exc}") from None
    made_with = metadata.get("libraries", {}).get("scikit-learn")
    running = installed_version("scikit-learn")
    if made_with != running:
        hint = "matching train" + ("" if kind == KIND else f" --target {label(kind)}")
        raise ArtefactError(
            f"{label(kind)} model {version!r} was made with scikit-learn {made_with}, this service runs "
            f"{running}: retrain with `{hint}`"
        )
    return VerifiedArtefact(kind, version, folder, metadata, how, model_bytes)


def load_model(
    root: Path | None = None, version: str | None = None, kind: str = KIND, *, conn: Connection | None
) -> LoadedModel:
    """The verified model: read, trusted (:func:`verify_model`) and versions compared before it is unpickled.

    ``conn`` is the store whose trusted digests decide (None: only ``MATCHING_TRUSTED_MODELS``)."""
    return verify_model(root, version, kind, conn=conn).load()
