"""The access audit trail (append-only, hash-chained) and the subject-access export built on it."""

from matching.audit.chain import GENESIS, Break, first_break
from matching.audit.trail import (
    ERROR,
    NOT_FOUND,
    OK,
    REFUSED,
    AuditEntry,
    StoredEntry,
    append,
    entries_for_child,
    head,
    recent_entries,
    record,
    verify,
)

__all__ = [
    "ERROR",
    "GENESIS",
    "NOT_FOUND",
    "OK",
    "REFUSED",
    "AuditEntry",
    "Break",
    "StoredEntry",
    "append",
    "entries_for_child",
    "first_break",
    "head",
    "recent_entries",
    "record",
    "verify",
]
