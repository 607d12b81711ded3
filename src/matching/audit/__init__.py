"""The access audit trail (append-only, hash-chained), its batching writer for requests, and the subject-access
export built on it."""

from matching.audit.chain import GENESIS, Break, first_break
from matching.audit.trail import (
    ERROR,
    NOT_FOUND,
    OK,
    REFUSED,
    AuditEntry,
    StoredEntry,
    append,
    append_all,
    entries_for_child,
    head,
    recent_entries,
    record,
    verify,
)
from matching.audit.writer import AuditUnavailableError, AuditWriter, flush_every_writer

__all__ = [
    "ERROR",
    "GENESIS",
    "NOT_FOUND",
    "OK",
    "REFUSED",
    "AuditEntry",
    "AuditUnavailableError",
    "AuditWriter",
    "Break",
    "StoredEntry",
    "append",
    "append_all",
    "entries_for_child",
    "first_break",
    "flush_every_writer",
    "head",
    "recent_entries",
    "record",
    "verify",
]
