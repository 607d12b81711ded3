"""Which model artefacts may be unpickled: digests recorded in the store, or in the deployment's configuration.

Unpickling a model runs whatever code the file names, so a hash kept beside the file (the models folder's
``MANIFEST``) catches accidents only: whoever can rewrite ``model.joblib`` can rewrite the MANIFEST too.  An
artefact is loaded only when the SHA-256 of both files read to build it is trusted somewhere the models folder
does not hold: ``model.joblib`` (the file that is unpickled) and ``metadata.json`` (its features, bands and the
gate's figures decide what users are shown).  Trusted means either

- recorded in the store's ``trusted_model_artefact`` table and not revoked: ``matching train`` records what it
  has just written from that store, an administrator records bundled or copied artefacts with
  ``matching models trust PATH`` and withdraws them with ``matching models revoke``; each change is audited
  (``model.trust``, ``model.revoke``) in the same transaction; or
- listed in ``MATCHING_TRUSTED_MODELS`` (both files' digests, separated by spaces or commas), for a deployment
  whose store it may not write.  A digest revoked in the store is refused even when it is listed.

:func:`check` is called by :func:`matching.stability.artefact.verify_model` with the digests of the bytes it has
read, before anything is unpickled.  :func:`trust` reads JSON and hashes bytes: it never unpickles either.
This module imports nothing of the learning stack, so the API can ask :func:`state` on every cache check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from matching.access import Actor
from matching.audit import AuditEntry, append
from matching.paths import PROJECT_ROOT
from matching.stability.artefact import (
    KINDS,
    METADATA_FILE,
    MODEL_FILE,
    ArtefactError,
    label,
    latest_version,
    read_manifest,
    sha256_bytes,
)
from matching.store import schema as s

#: The deployment's own list of trusted digests (for a store the service may not write).
ENV = "MATCHING_TRUSTED_MODELS"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_T = s.trusted_model_artefact


class UntrustedArtefactError(ArtefactError):
    """An artefact whose digests are not trusted (or were revoked): it is never unpickled."""


class TrustError(ValueError):
    """A trust or revocation an administrator asked for that cannot be done (the message says why)."""


@dataclass(frozen=True)
class Digests:
    """SHA-256 of the two files an artefact is built from."""

    model_sha256: str
    metadata_sha256: str


@dataclass(frozen=True)
class TrustRecord:
    """One row of ``trusted_model_artefact``."""

    id: int
    kind: str
    version: str
    model_sha256: str
    metadata_sha256: str
    trusted_by: str
    trusted_at: datetime
    note: str | None
    revoked_by: str | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """True once revoked (a revoked row is never trusted again; trusting again adds a row)."""
        return self.revoked_at is not None


def when(moment: datetime | None) -> str:
    """A stored time as people read it (UTC; SQLite gives it back without its zone)."""
    if moment is None:
        return "-"
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _record(row: Any) -> TrustRecord:
    return TrustRecord(**{k: row._mapping[k] for k in TrustRecord.__dataclass_fields__})


def records(conn: Connection, *, model_sha256: str | None = None) -> list[TrustRecord]:
    """Every trust record (of one model digest), oldest first."""
    q = select(_T).order_by(_T.c.id)
    if model_sha256 is not None:
        q = q.where(_T.c.model_sha256 == model_sha256)
    return [_record(r) for r in conn.execute(q)]


def state(conn: Connection) -> tuple[int, int]:
    """Changes whenever an artefact is trusted or revoked (for caches of loaded models)."""
    row = conn.execute(select(func.coalesce(func.max(_T.c.id), 0), func.count(_T.c.revoked_at))).one()
    return int(row[0]), int(row[1])


def configured_digests(environ: dict[str, str] | None = None) -> frozenset[str]:
    """The digests listed in ``MATCHING_TRUSTED_MODELS`` (an entry that is not a SHA-256 refuses them all)."""
    raw = (os.environ if environ is None else environ).get(ENV, "")
    found = frozenset(d.lower() for d in re.split(r"[\s,]+", raw) if d)
    bad = sorted(d for d in found if not _HEX64.fullmatch(d))
    if bad:
        raise UntrustedArtefactError(
            f"{ENV} holds {bad[0][:20]!r}, which is not a SHA-256 (64 hexadecimal digits): no model is trusted by it"
        )
    return found


def _shown(folder: Path) -> str:
    """A folder as the refusal names it: relative to the project when inside it (``models/stability/V``)."""
    try:
        return Path(os.path.abspath(folder)).relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(folder)


def check(conn: Connection | None, *, kind: str, version: str, folder: Path, digests: Digests) -> str:
    """How the artefact with ``digests`` is trusted, in words; raise :class:`UntrustedArtefactError` saying why
    it is not.  ``conn`` None: only the configured digests count."""
    name = f"{label(kind)} model"
    shown = _shown(folder)
    hint = f"`matching models trust {shown}`"
    rows = [] if conn is None else records(conn, model_sha256=digests.model_sha256)
    live = [r for r in rows if not r.revoked]
    if rows and not live:  # revoked in the store: refused whatever the configuration says
        last = rows[-1]
        raise UntrustedArtefactError(
            f"{name} not trusted: {version!r} was revoked in this store on {when(last.revoked_at)} "
            f"(`matching models trust {shown} --reinstate` to trust it again)"
        )
    for r in live:
        if r.kind == kind and r.metadata_sha256 == digests.metadata_sha256:
            return f"trusted in this store by {r.trusted_by} on {when(r.trusted_at)}"
    configured = configured_digests()
    if digests.model_sha256 in configured and digests.metadata_sha256 in configured:
        return f"trusted by {ENV}"
    if live and all(r.kind != kind for r in live):
        raise UntrustedArtefactError(
            f"{name} not trusted: {version!r} is trusted in this store as a {label(live[0].kind)} model only"
        )
    if live:
        raise UntrustedArtefactError(
            f"{name} not trusted: its {METADATA_FILE} has changed since it was trusted in this store "
            f"({hint} again if the change is yours)"
        )
    where = f"this store or {ENV}" if configured else "this store"
    raise UntrustedArtefactError(f"{name} not trusted: its digest is not recorded in {where} ({hint} if you trust it)")


# --- what an administrator (or `matching train`) does ----------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An artefact folder read for trusting: its kind and version (from its metadata) and digests."""

    folder: Path
    kind: str
    version: str
    digests: Digests


def artefact_folders(path: Path) -> list[Path]:
    """The artefact folders ``path`` names: itself if it is one, else (a models folder) each kind's LATEST."""
    if (path / MODEL_FILE).exists() or (path / METADATA_FILE).exists():
        return [path]
    found = [path / kind / latest_version(path, kind) for kind in KINDS if (path / kind / "LATEST").exists()]
    if not found:
        raise TrustError(f"{path} is neither a model version folder (with {MODEL_FILE}) nor a models folder")
    return found


def read_candidate(folder: Path) -> Candidate:
    """Read an artefact folder for trusting (JSON and bytes only); refuse one that is incomplete, misplaced or
    disagrees with its models folder's MANIFEST (an accident: a partial copy, a Git LFS pointer)."""
    folder = Path(os.path.abspath(folder))  # "." or "models/stability/V/" named by their own names; links kept
    model_path, meta_path = folder / MODEL_FILE, folder / METADATA_FILE
    if not model_path.is_file() or not meta_path.is_file():
        raise TrustError(f"{folder} lacks {MODEL_FILE} or {METADATA_FILE}")
    model_bytes, meta_bytes = model_path.read_bytes(), meta_path.read_bytes()
    try:
        meta = json.loads(meta_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TrustError(f"{meta_path} is not valid JSON") from None
    kind, version = meta.get("kind", "stability"), meta.get("version")
    if kind not in KINDS:
        raise TrustError(f"{meta_path} names kind {kind!r}, not one of {', '.join(KINDS)}")
    if version != folder.name or kind != folder.parent.name:
        raise TrustError(
            f"{folder} holds {label(kind)} model {version!r}: an artefact is trusted where the service looks for "
            f"it, MODELS/{kind}/{version}"
        )
    digests = Digests(sha256_bytes(model_bytes), sha256_bytes(meta_bytes))
    manifest = read_manifest(folder.parent.parent)
    for file, digest in ((MODEL_FILE, digests.model_sha256), (METADATA_FILE, digests.metadata_sha256)):
        listed = manifest.get(f"{kind}/{version}/{file}")
        if listed is not None and listed != digest:
            raise TrustError(f"{folder / file} does not match its SHA-256 in the MANIFEST: damaged or changed")
    return Candidate(folder, kind, version, digests)


def trust(
    conn: Connection,
    folder: Path,
    *,
    actor: Actor,
    note: str,
    expect: str | None = None,
    reinstate: bool = False,
    now: datetime | None = None,
) -> tuple[TrustRecord, bool]:
    """Record the artefact in ``folder`` as trusted in this store, audited; return the record and whether it is
    new (False: it was trusted already).  ``expect``: the SHA-256 ``model.joblib`` must have (as printed by the
    ``matching train`` that made it).  A revoked artefact is trusted again only with ``reinstate``."""
    c = read_candidate(folder)
    if expect is not None and expect.strip().lower() != c.digests.model_sha256:
        raise TrustError(
            f"{folder / MODEL_FILE} has SHA-256 {c.digests.model_sha256}, not the {expect.strip()} expected: "
            "not trusted"
        )
    rows = records(conn, model_sha256=c.digests.model_sha256)
    for r in rows:
        if not r.revoked and r.kind == c.kind and r.metadata_sha256 == c.digests.metadata_sha256:
            return r, False
    if rows and all(r.revoked for r in rows) and not reinstate:
        last = rows[-1]
        raise TrustError(
            f"{label(c.kind)} model {c.version!r} was revoked by {last.revoked_by} on {when(last.revoked_at)}: "
            "add --reinstate to trust it again"
        )
    record = TrustRecord(
        id=0,
        kind=c.kind,
        version=c.version,
        model_sha256=c.digests.model_sha256,
        metadata_sha256=c.digests.metadata_sha256,
        trusted_by=actor.username[:64],
        trusted_at=now or datetime.now(UTC),
        note=note,
        revoked_by=None,
        revoked_at=None,
    )
    values = {k: v for k, v in dataclasses.asdict(record).items() if k != "id"}
    new_id = conn.execute(insert(_T).values(**values).returning(_T.c.id)).scalar_one()
    append(
        conn,
        AuditEntry(
            actor,
            "model.trust",
            detail=f"{label(c.kind)} model {c.version}: {MODEL_FILE} sha256 {c.digests.model_sha256}, "
            f"{METADATA_FILE} sha256 {c.digests.metadata_sha256} ({note})",
        ),
    )
    return dataclasses.replace(record, id=int(new_id)), True


def _matches(r: TrustRecord, what: str) -> bool:
    """``what`` is the record's version, or its model digest (or the first 12 or more digits of it)."""
    digits = what.strip().lower()
    is_digest = len(digits) >= 12 and set(digits) <= set("0123456789abcdef")
    return r.version == what.strip() or (is_digest and r.model_sha256.startswith(digits))


def revoke(conn: Connection, what: str, *, actor: Actor, now: datetime | None = None) -> list[TrustRecord]:
    """Revoke every trusted record of ``what``: a version, a ``model.joblib`` SHA-256 (at least its first 12
    digits) or an artefact folder; audited.  The service stops using it at its next cache check."""
    if Path(what).is_dir() and (Path(what) / MODEL_FILE).is_file():
        what = sha256_bytes((Path(what) / MODEL_FILE).read_bytes())
    hits = [r for r in records(conn) if not r.revoked and _matches(r, what)]
    if not hits:
        raise TrustError(f"nothing trusted in this store matches {what!r} (see `matching models list`)")
    at = now or datetime.now(UTC)
    conn.execute(
        update(_T).where(_T.c.id.in_([r.id for r in hits])).values(revoked_by=actor.username[:64], revoked_at=at)
    )
    for r in hits:
        detail = f"{label(r.kind)} model {r.version}: {MODEL_FILE} sha256 {r.model_sha256}"
        append(conn, AuditEntry(actor, "model.revoke", detail=detail))
    return [dataclasses.replace(r, revoked_by=actor.username[:64], revoked_at=at) for r in hits]
