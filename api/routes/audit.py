"""The audit trail for auditors: who looked at a child's records, the latest entries, and whether the chain holds.

An auditor sees the children of their own remit only: an entry's other children are counted, not named.
Reading the trail is itself recorded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import READ_AUDIT, Auditor, ConnectionDep
from api.schemas import NO_CHILD, NOT_FOUND
from matching.audit import StoredEntry, entries_for_child, head, recent_entries, verify
from matching.audit.chain import utc_text
from matching.store import queries

router = APIRouter(prefix="/v1/audit", tags=["audit"])
ChildId = Annotated[str, Query(min_length=1, max_length=64, description="Every entry that touched this child.")]


class AuditEntryOut(BaseModel):
    """One entry of the trail: who, their role, when, what, which children, why, and how it ended."""

    seq: int
    at: str = Field(description="UTC, ISO 8601")
    username: str
    role: str | None
    action: str
    outcome: str
    child_ids: list[str] = Field(description="The children touched that are in the auditor's remit.")
    child_ids_withheld: int = Field(description="How many other children the entry touched (outside the remit).")
    purpose: str | None
    detail: str | None
    entry_sha256: str


class AuditPage(BaseModel):
    """Entries, newest first unless they are one child's history (oldest first)."""

    items: list[AuditEntryOut]


class AuditStatus(BaseModel):
    """Whether the chain of hashes holds, how long it is and its last hash (keep a copy elsewhere)."""

    ok: bool
    entries: int
    head_sha256: str
    first_break: str | None


def _out(entry: StoredEntry, visible: frozenset[str]) -> AuditEntryOut:
    shown = [c for c in entry.child_ids if c in visible]
    return AuditEntryOut(
        seq=entry.seq,
        at=utc_text(entry.at),
        username=entry.username,
        role=entry.role,
        action=entry.action,
        outcome=entry.outcome,
        child_ids=shown,
        child_ids_withheld=len(entry.child_ids) - len(shown),
        purpose=entry.purpose,
        detail=entry.detail,
        entry_sha256=entry.entry_sha256,
    )


@router.get("", responses=NOT_FOUND)
def read_audit(
    conn: ConnectionDep,
    caller: Auditor,
    child_id: ChildId | None = None,
    username: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who has looked at a child's records, when and why (``child_id``, a child in the caller's remit: 404
    otherwise); or the latest entries (of one user with ``username``), newest first, a page before ``before_seq``."""
    if child_id is not None:
        caller.touch([child_id])
        if not queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=[child_id]):
            raise HTTPException(status_code=404, detail=NO_CHILD)
        entries = entries_for_child(conn, child_id)
        if username is not None:
            entries = [e for e in entries if e.username == username]
    else:
        entries = recent_entries(conn, limit=limit, before_seq=before_seq, username=username)
    named = {c for e in entries for c in e.child_ids}
    visible = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=named) if named else frozenset()
    caller.touch(visible)
    return AuditPage(items=[_out(e, visible) for e in entries])


@router.get("/verify", dependencies=[Depends(READ_AUDIT)])
def verify_audit(conn: ConnectionDep) -> AuditStatus:
    """Check the whole chain of hashes: the first entry changed, removed, reordered or added out of turn."""
    broken = verify(conn)
    seq, digest = head(conn)
    return AuditStatus(ok=broken is None, entries=seq, head_sha256=digest, first_break=str(broken) if broken else None)
