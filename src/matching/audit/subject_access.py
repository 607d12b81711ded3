"""Subject access (UK GDPR Article 15): everything the store holds about one child, in one zip archive.

The archive holds ``child.json`` (every record, and the audit entries that touched the child: who looked at
their records, when and why), the same records as one CSV per table under ``csv/``, and a ``README.txt``.  The
household the child lives in is given by its identifier, agency and area only: its carers' and other members'
details are other people's data.  The export itself is audited.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from matching.access import Actor
from matching.audit.chain import utc_text
from matching.audit.trail import NOT_FOUND, OK, AuditEntry, append, entries_for_child
from matching.domain import Scope
from matching.store import schema as s

DEFAULT_PURPOSE = "subject access request (UK GDPR Article 15)"

#: The child's own records: table, and the column naming the child, in the order the archive lists them.
CHILD_TABLES: tuple[tuple[Table, str], ...] = (
    (s.child, "child_id"),
    (s.ssda903_child, "child_id"),
    (s.child_need, "child_id"),
    (s.sdq_score, "child_id"),
    (s.referral, "child_id"),
    (s.placement, "child_id"),
    (s.progress_record, "child_id"),
    (s.missing_episode, "child_id"),
)
_HOUSEHOLD_COLUMNS = ("household_id", "agency_code", "la_code")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote: rows per table and the audit entries included."""

    path: Path
    rows: dict[str, int]
    audit_entries: int


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(columns)
    for row in rows:
        out.writerow(
            [";".join(map(str, v)) if isinstance(v, list) else "" if v is None else _plain(v) for v in row.values()]
        )
    return buf.getvalue()


def _readme(child_id: str, at: str, rows: Mapping[str, int], audit: int) -> str:
    lines = [
        f"Everything this service holds about child {child_id}, exported {at}.",
        "",
        "child.json holds every record below and the audit trail entries that touched this child's records",
        "(who, their role, when, what, why and how it ended). csv/ holds the same records, one file per table.",
        "",
        *[f"  {name}: {n} row{'s' if n != 1 else ''}" for name, n in rows.items()],
        f"  audit entries: {audit}",
        "",
        "household_membership gives the home the child lives in by its reference, approving agency and area only:",
        "the carers' and other household members' details are their own personal data.",
    ]
    return "\n".join(lines) + "\n"


def export_child(
    conn: Connection,
    child_id: str,
    out_path: Path,
    *,
    actor: Actor,
    purpose: str = DEFAULT_PURPOSE,
    scope: Scope | None = None,
    now: datetime | None = None,
) -> ExportSummary | None:
    """Write the subject-access archive of ``child_id`` to ``out_path`` (a zip) and audit it.

    ``scope`` limits which children may be exported (a principal's scope); None exports any (administrative
    use, as from the command line).  None, writing nothing, for a child absent or out of scope.  Audited either
    way: call inside a transaction that commits either way."""
    scope = scope or Scope.everything()
    row = conn.execute(select(s.child).where(s.child.c.child_id == child_id)).mappings().first()
    if row is None or not scope.sees_child(row["la_code"]):
        append(conn, AuditEntry(actor, "child.export", NOT_FOUND, child_ids=[child_id], purpose=purpose, at=now))
        return None
    tables: dict[str, list[dict[str, Any]]] = {}
    columns: dict[str, list[str]] = {}
    for table, column in CHILD_TABLES:
        columns[table.name] = [c.name for c in table.columns]
        pk = list(table.primary_key.columns) or list(table.columns)
        found = conn.execute(select(table).where(table.c[column] == child_id).order_by(*pk)).mappings().all()
        tables[table.name] = [dict(r) for r in found]
    columns["household_membership"] = [*_HOUSEHOLD_COLUMNS, "current"]
    tables["household_membership"] = []
    if row["household_id"] is not None:
        home = (
            conn.execute(
                select(*(s.household.c[c] for c in _HOUSEHOLD_COLUMNS)).where(
                    s.household.c.household_id == row["household_id"]
                )
            )
            .mappings()
            .first()
        )
        if home is not None:
            tables["household_membership"].append({**home, "current": True})
    # An entry may have touched other children too (a list, a ranking): they are other people's data, so the
    # archive names this child only and counts the others.
    audit = []
    for e in entries_for_child(conn, child_id):
        entry = e.as_dict()
        entry["other_children"] = len(entry["child_ids"]) - 1
        entry["child_ids"] = [child_id]
        audit.append(entry)
    at = now or datetime.now(UTC)
    stamp = utc_text(at)
    document = {
        "child_id": child_id,
        "exported_at": stamp,
        "purpose": purpose,
        "records": {name: [{k: _plain(v) for k, v in r.items()} for r in rows] for name, rows in tables.items()},
        "audit": audit,
    }
    counts = {name: len(rows) for name, rows in tables.items()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(child_id, stamp, counts, len(audit)))
        archive.writestr("child.json", json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
        for name, rows in tables.items():
            archive.writestr(f"csv/{name}.csv", _csv(rows, columns[name]))
        audit_columns = list(audit[0]) if audit else ["seq", "at", "username", "role", "action", "outcome"]
        archive.writestr("csv/audit.csv", _csv(audit, audit_columns))
    os.replace(partial, out_path)
    append(conn, AuditEntry(actor, "child.export", OK, child_ids=[child_id], purpose=purpose, at=now))
    return ExportSummary(out_path, counts, len(audit))
