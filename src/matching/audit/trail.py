"""The audit trail in the store: append an entry, verify the chain, read a child's history.

Writers call :func:`append` inside their own transaction (the entry commits or rolls back with the change it
records) or :func:`record` for a transaction of its own.  Appends are serialised by updating the one-row
``audit_head`` first: PostgreSQL row-locks it until commit, SQLite takes its write lock, so two writers never
chain to the same entry.  Entries are never updated or deleted (triggers refuse it on both engines).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from matching.access import Actor
from matching.audit.chain import GENESIS, Break, ChainChecker, entry_hash, utc, utc_text
from matching.store import schema as s

#: Outcomes written by this library (callers may write others, e.g. an HTTP status code as text).
OK, REFUSED, NOT_FOUND, ERROR = "ok", "refused", "not_found", "error"
_MAX = {"username": 64, "role": 32, "action": 200, "outcome": 32}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Something to record: who did what, to which children, why, and how it ended.

    ``detail`` names what the action was done to besides children (a username, a token's number): never a
    child's data.  ``child_ids`` are the children whose records were read or changed."""

    actor: Actor
    action: str
    outcome: str = OK
    child_ids: Sequence[str] = ()
    purpose: str | None = None
    detail: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the trail holds it."""

    seq: int
    at: datetime
    user_id: int | None
    username: str
    role: str | None
    action: str
    detail: str | None
    child_ids: tuple[str, ...]
    purpose: str | None
    outcome: str
    prev_sha256: str
    entry_sha256: str = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (time in ISO-8601 UTC)."""
        out = asdict(self)
        out["at"] = utc_text(self.at)
        out["child_ids"] = list(self.child_ids)
        return out


_BUMP_HEAD = (
    update(s.audit_head)
    .where(s.audit_head.c.id == 1)
    .values(seq=s.audit_head.c.seq + bindparam("n"))
    .returning(s.audit_head.c.seq, s.audit_head.c.entry_sha256)
)
_SET_HEAD = update(s.audit_head).where(s.audit_head.c.id == 1).values(entry_sha256=bindparam("h"))
_INSERT = insert(s.audit_entry)
_INDEX = insert(s.audit_child)


def _row(entry: AuditEntry) -> dict[str, Any]:
    row: dict[str, Any] = {
        "at": utc(entry.at or datetime.now(UTC)),
        "user_id": entry.actor.user_id,
        "username": entry.actor.username,
        "role": entry.actor.role,
        "action": entry.action,
        "detail": entry.detail,
        "child_ids": sorted({str(c) for c in entry.child_ids}),
        "purpose": entry.purpose or None,
        "outcome": entry.outcome,
    }
    if not row["action"] or not row["outcome"] or not row["username"]:
        raise ValueError("an audit entry needs an actor's username, an action and an outcome")
    for name, limit in _MAX.items():
        if row[name] is not None and len(row[name]) > limit:
            row[name] = row[name][: limit - 1] + "…"
    if any(not c or len(c) > 64 for c in row["child_ids"]):
        raise ValueError("child ids in the audit trail are 1-64 characters")
    return row


def append(conn: Connection, entry: AuditEntry) -> StoredEntry:
    """Add ``entry`` to the trail inside the caller's transaction and return it as stored.

    On SQLite make the append the transaction's first write or come after other writes, never after reads
    that must stay consistent with it: :func:`record` does this for you."""
    return append_all(conn, [entry])[0]


def append_all(conn: Connection, entries: Sequence[AuditEntry]) -> list[StoredEntry]:
    """Add ``entries`` in order inside the caller's transaction, with four statements whatever their number."""
    rows = [_row(e) for e in entries]
    if not rows:
        return []
    head = conn.execute(_BUMP_HEAD, {"n": len(rows)}).first()
    if head is None:  # a store whose head row went missing: the first append recreates it
        conn.execute(insert(s.audit_head).values(id=1, seq=len(rows), entry_sha256=GENESIS))
        last, prev = len(rows), GENESIS
    else:
        last, prev = int(head[0]), str(head[1])
    index = []
    for seq, row in enumerate(rows, start=last - len(rows) + 1):
        row["seq"] = seq
        row["prev_sha256"] = prev
        row["entry_sha256"] = prev = entry_hash(row, prev)
        index += [{"child_id": c, "seq": seq} for c in row["child_ids"]]
    conn.execute(_INSERT, rows)
    if index:
        conn.execute(_INDEX, index)
    conn.execute(_SET_HEAD, {"h": prev})
    return [_stored(r) for r in rows]


def record(engine: Engine, entry: AuditEntry) -> StoredEntry:
    """Append ``entry`` in a transaction of its own (committed on return)."""
    with engine.begin() as conn:
        return append(conn, entry)


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(
        seq=int(row["seq"]),
        at=utc(row["at"]),
        user_id=row["user_id"],
        username=row["username"],
        role=row["role"],
        action=row["action"],
        detail=row["detail"],
        child_ids=tuple(row["child_ids"]),
        purpose=row["purpose"],
        outcome=row["outcome"],
        prev_sha256=row["prev_sha256"],
        entry_sha256=row["entry_sha256"],
    )


def verify(conn: Connection, *, batch: int = 5_000) -> Break | None:
    """The first entry that was changed, removed, reordered or added out of turn, or None if the trail holds.

    Reads the whole trail in batches: the chain of hashes, the head (entries cut from the end) and the index
    by child (entries hidden from a child's history).  Entries keep being written while it reads (every request
    is audited): it checks the trail up to the head as it stood when it began, then that nothing was written past
    the head as it stands at the end (an honest writer moves the head in the transaction that adds the entries)."""
    checker = ChainChecker()
    start = head(conn)
    after = 0
    while True:
        rows = (
            conn.execute(
                select(s.audit_entry)
                .where(s.audit_entry.c.seq > after, s.audit_entry.c.seq <= start[0])
                .order_by(s.audit_entry.c.seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        indexed: dict[int, list[str]] = {}
        lo, hi = rows[0]["seq"], rows[-1]["seq"]
        for child_id, seq in conn.execute(
            select(s.audit_child.c.child_id, s.audit_child.c.seq).where(s.audit_child.c.seq.between(lo, hi))
        ):
            indexed.setdefault(seq, []).append(child_id)
        for row in rows:
            if (found := checker.feed(_hashable(row), indexed.get(row["seq"], []))) is not None:
                return found
        after = hi
    # One statement, so one view of both tables: an honest writer adds an entry and its index rows together.
    stray = conn.execute(
        select(func.min(s.audit_child.c.seq)).where(s.audit_child.c.seq.not_in(select(s.audit_entry.c.seq)))
    ).scalar_one()
    if stray is not None:
        return Break(int(stray), "indexed by child but not in the trail")
    if (broken := checker.finish(start)) is not None:
        return broken
    # Written since it began: every entry there now must be under the head read after it (read in that order).
    last = conn.execute(select(func.max(s.audit_entry.c.seq))).scalar_one()
    end = head(conn)[0]
    if last is not None and int(last) > end:
        return Break(end + 1, "added behind the trail's back (not recorded as the last entry)")
    return None


def _hashable(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["at"] = utc(out["at"])
    out["child_ids"] = list(out["child_ids"] or [])
    return out


def head(conn: Connection) -> tuple[int, str]:
    """The last entry's number and hash (0 and all zeros for an empty trail): keep a copy elsewhere to detect
    a trail rewritten from some entry on."""
    row = conn.execute(select(s.audit_head.c.seq, s.audit_head.c.entry_sha256).where(s.audit_head.c.id == 1)).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)


def entries_for_child(conn: Connection, child_id: str) -> list[StoredEntry]:
    """Every entry that touched ``child_id``, oldest first: who looked at this child, when and why."""
    rows = (
        conn.execute(
            select(s.audit_entry)
            .join(s.audit_child, s.audit_child.c.seq == s.audit_entry.c.seq)
            .where(s.audit_child.c.child_id == child_id)
            .order_by(s.audit_entry.c.seq)
        )
        .mappings()
        .all()
    )
    return [_stored(r) for r in rows if child_id in (r["child_ids"] or [])]


def recent_entries(
    conn: Connection,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    username: str | None = None,
    child_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcomes: Collection[str] | None = None,
) -> list[StoredEntry]:
    """The latest entries, newest first (a page of at most ``limit`` before ``before_seq``), of one user if named,
    that touched ``child_id`` if named, at or after ``since`` and before ``until``, with one of ``outcomes``."""
    stmt = select(s.audit_entry).order_by(s.audit_entry.c.seq.desc()).limit(limit)
    if before_seq is not None:
        stmt = stmt.where(s.audit_entry.c.seq < before_seq)
    if username is not None:
        stmt = stmt.where(s.audit_entry.c.username == username)
    if child_id is not None:
        stmt = stmt.join(s.audit_child, s.audit_child.c.seq == s.audit_entry.c.seq).where(
            s.audit_child.c.child_id == child_id
        )
    if since is not None:
        stmt = stmt.where(s.audit_entry.c.at >= utc(since))
    if until is not None:
        stmt = stmt.where(s.audit_entry.c.at < utc(until))
    if outcomes is not None:
        stmt = stmt.where(s.audit_entry.c.outcome.in_(sorted(outcomes)))
    found = [_stored(r) for r in conn.execute(stmt).mappings()]
    return [e for e in found if child_id is None or child_id in e.child_ids]  # as entries_for_child
