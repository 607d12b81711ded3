"""The audit trail's hash chain, pure: the canonical form of an entry, its hash, and finding the first break.

Each entry's hash is SHA-256 over the canonical JSON of its fields and the previous entry's hash (all zeros
before the first), so changing, removing or reordering any entry breaks the chain at that entry or the next.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The previous hash of the first entry.
GENESIS = "0" * 64
#: The canonical form's version, hashed with every entry so a future form cannot be confused with this one.
FORM_VERSION = 1
#: The hashed fields of an entry, besides the previous hash.
FIELDS = ("seq", "at", "user_id", "username", "role", "action", "detail", "child_ids", "purpose", "outcome")


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value (as SQLite returns them) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """``moment`` as ISO-8601 UTC to the microsecond (``2026-01-31T09:15:00.000001Z``)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: Mapping[str, Any], prev_sha256: str) -> bytes:
    """The bytes hashed for ``entry`` (its :data:`FIELDS`) chained to ``prev_sha256``: sorted-key compact JSON."""
    body: dict[str, Any] = {name: entry[name] for name in FIELDS}
    body["at"] = utc_text(body["at"]) if isinstance(body["at"], datetime) else body["at"]
    body["child_ids"] = list(body["child_ids"])
    body["prev"] = prev_sha256
    body["v"] = FORM_VERSION
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: Mapping[str, Any], prev_sha256: str) -> str:
    """SHA-256 (hex) of the canonical form of ``entry`` chained to ``prev_sha256``."""
    return hashlib.sha256(canonical(entry, prev_sha256)).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first entry where the chain does not hold, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


class ChainChecker:
    """Walks the trail entry by entry (in stored order) and stops at the first break; see :func:`first_break`."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev = GENESIS
        self.broken: Break | None = None

    @property
    def last_seq(self) -> int:
        """The last entry checked (0 before any)."""
        return self.expected_seq - 1

    def feed(self, row: Mapping[str, Any], indexed: Sequence[str] | None = None) -> Break | None:
        """Check the next entry (and, if given, the child ids the index holds for it); the break, if any."""
        if self.broken is not None:
            return self.broken
        seq, expected = row["seq"], self.expected_seq
        if seq != expected:
            if seq > expected:
                return self._break(expected, "missing: it was removed")
            return self._break(seq, f"out of order: found after entry {expected - 1}")
        if not hmac.compare_digest(str(row["prev_sha256"]), self.prev):
            return self._break(seq, "the entry before it was changed, removed or reordered")
        if not hmac.compare_digest(str(row["entry_sha256"]), entry_hash(row, self.prev)):
            return self._break(seq, "its contents were changed")
        if indexed is not None and sorted(indexed) != sorted(set(row["child_ids"])):
            return self._break(seq, "the index by child does not match its children")
        self.prev, self.expected_seq = str(row["entry_sha256"]), seq + 1
        return None

    def finish(self, head: tuple[int, str] | None) -> Break | None:
        """After the last entry: the trail must end where its head says (catches entries cut from the end)."""
        if self.broken is not None or head is None:
            return self.broken
        last = self.last_seq
        if head[0] > last:
            return self._break(last + 1, f"missing: the trail ends at entry {last} but {head[0]} were written")
        if head[0] < last:
            return self._break(head[0] + 1, "added behind the trail's back (not recorded as the last entry)")
        if not hmac.compare_digest(head[1], self.prev):
            return self._break(last, "is not the last entry recorded")
        return None

    def _break(self, seq: int, reason: str) -> Break:
        self.broken = Break(seq, reason)
        return self.broken


def first_break(
    rows: Iterable[Mapping[str, Any]],
    head: tuple[int, str] | None = None,
    index: Mapping[int, Sequence[str]] | None = None,
) -> Break | None:
    """The first entry of ``rows`` (in stored order) that breaks the chain, or None when it holds.

    ``head`` (last seq, last hash) catches entries cut from the end; ``index`` (seq -> child ids indexed) catches
    an entry hidden from, or added to, a child's history."""
    checker = ChainChecker()
    for row in rows:
        if checker.feed(row, None if index is None else index.get(row["seq"], ())) is not None:
            return checker.broken
    if index is not None and (extra := sorted(s for s in index if s > checker.last_seq)):
        return Break(extra[0], "indexed by child but not in the trail")
    return checker.finish(head)
