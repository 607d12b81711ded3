"""``matching import``: bring a folder of contract files into the store, all or nothing.

The folder is validated first (every problem listed, nothing written on any error).  Then one
transaction writes every table in dependency order:

* entity tables (local authorities, agencies, households, children, referrals, household
  members, placements) are **upserted by their id**, so importing the same files twice changes
  nothing and a corrected file updates rows in place;
* detail tables (child needs, SDQ scores, carer training) are **replaced for each child or
  household present in the import**, so a need removed from the file is removed from the store.

Rows the import does not mention are left as they are.  A successful import is recorded in
``import_run`` with the files' SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, insert
from sqlalchemy.dialects import postgresql, sqlite

from matching import codes
from matching.contract.spec import FILES, FileSpec
from matching.contract.validate import ContractError, ValidationReport, validate_folder
from matching.store import schema
from matching.taxonomy import Taxonomy

#: Detail tables replaced per parent: file -> parent key column.
DETAIL_PARENT = {
    "child_needs": "child_id",
    "sdq_scores": "child_id",
    "carer_training": "household_id",
    "progress_records": "child_id",
    "missing_episodes": "child_id",
    # A child's placement history is replaced whole by an import that brings it (ids may differ by source).
    "placements": "child_id",
}
_BATCH = 5_000

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    rows: dict[str, int]
    source_sha256: str
    report: ValidationReport


def import_folder(
    engine: Engine,
    folder: Path | str,
    *,
    taxonomy: Taxonomy | None = None,
    progress: ProgressCallback | None = None,
    validation_progress: Callable[[str], None] | None = None,
    after_table: Callable[[str], None] | None = None,
    validated: ValidationReport | None = None,
    before_commit: Callable[[Connection], None] | None = None,
) -> ImportResult:
    """Validate ``folder`` and import it in one transaction; raise ContractError listing every problem.

    ``validated``: the folder's report when the caller has just validated it (not validated twice).
    ``before_commit``: more writes in the same transaction, after every table."""
    folder = Path(folder)
    started = datetime.now(UTC)
    report = validated or validate_folder(folder, taxonomy=taxonomy, progress=validation_progress)
    if not report.ok:
        raise ContractError(report)
    digest = folder_sha256(folder)
    total = sum(len(t) for t in report.tables.values())
    done = 0
    rows: dict[str, int] = {}
    with engine.begin() as conn:
        for spec in FILES:
            frame = report.tables.get(spec.name)
            if frame is None:
                continue
            records = _records(spec, frame)
            if spec.name in DETAIL_PARENT:
                _replace_details(conn, spec, records)
            for batch in _batches(records):
                _upsert(conn, schema.TABLES[spec.name], spec, batch)
                done += len(batch)
                if progress:
                    progress(spec.name, done, total)
            rows[spec.name] = len(records)
            if after_table:
                after_table(spec.name)
        if before_commit:
            before_commit(conn)
        conn.execute(
            insert(schema.import_run).values(
                started_at=started,
                finished_at=datetime.now(UTC),
                source=str(folder.resolve()),
                source_sha256=digest,
                rows=rows,
            )
        )
    return ImportResult(rows=rows, source_sha256=digest, report=report)


def folder_sha256(folder: Path) -> str:
    """One SHA-256 over the contract files present in ``folder`` (name and content)."""
    h = hashlib.sha256()
    for spec in FILES:
        path = folder / spec.filename
        if path.exists():
            h.update(spec.filename.encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _records(spec: FileSpec, frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols: dict[str, list[Any]] = {}
    for column in spec.columns:
        s = frame[column.name]
        if column.kind in ("date", "month") and pd.api.types.is_datetime64_any_dtype(s):
            values = s.dt.date.astype(object).where(s.notna(), None).tolist()  # vectorised: no per-row pandas calls
        elif column.kind in ("date", "month"):
            values = [None if pd.isna(v) else v.date() for v in s]
        elif column.kind in ("codes", "ids", "words"):
            values = [list(v) for v in s.tolist()]
        elif column.kind == "int":
            values = [None if pd.isna(v) else int(v) for v in s.tolist()]
        elif column.kind == "float":
            values = [None if pd.isna(v) else float(v) for v in s.tolist()]
        elif column.kind == "bool":
            values = [None if pd.isna(v) else bool(v) for v in s.tolist()]
        else:
            values = [None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in s.tolist()]
        cols[column.name] = values
    if spec.name == "placements":
        cols["unplanned"] = [None if r is None else r in codes.UNPLANNED_REASONS for r in cols["end_reason"]]
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _batches(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(records), _BATCH):
        yield records[i : i + _BATCH]


def _upsert(conn: Connection, table: Table, spec: FileSpec, batch: list[dict[str, Any]]) -> None:
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    if not table.primary_key.columns:  # a dated history without a primary key: replaced per parent beforehand
        conn.execute(stmt, batch)
        return
    updatable = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in spec.key}
    stmt = (
        stmt.on_conflict_do_update(index_elements=list(spec.key), set_=updatable)
        if updatable
        else stmt.on_conflict_do_nothing(index_elements=list(spec.key))
    )
    conn.execute(stmt, batch)


def _replace_details(conn: Connection, spec: FileSpec, records: list[dict[str, Any]]) -> None:
    parent = DETAIL_PARENT[spec.name]
    table = schema.TABLES[spec.name]
    parents = sorted({r[parent] for r in records})
    for i in range(0, len(parents), 900):
        conn.execute(delete(table).where(table.c[parent].in_(parents[i : i + 900])))
