"""Referrals as records the service owns: made, changed while open, and moved from open to closed, each write
with one history row saying who did it and when (the names of the fields changed, never their values).

A referral's fields are checked by the data contract's own rule (:func:`matching.contract.validate.parse_record`,
the one the importer uses), then against the store: the child is in the caller's remit and still looked after,
has no other referral that is not closed, and the date is not in the future.  Every problem is listed at once
(:class:`ReferralError`) and nothing is written while there is one.  Writes happen in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from matching import codes
from matching.access import Actor
from matching.contract.spec import REFERRALS
from matching.contract.validate import parse_record
from matching.decisions.decision import Problem, ProblemsError
from matching.domain import Scope
from matching.referrals.current import ReferralNotFoundError
from matching.referrals.words import FIELD_LABELS, STATUS_REASONS
from matching.store import schema as s
from matching.taxonomy import Taxonomy, load_taxonomy

#: Fields set by the service, never by the person making or changing a referral.
SERVICE_FIELDS: Final = ("referral_id", "status")
#: Fields that may be changed while the referral is open (not the child, the id or the status).
EDITABLE_FIELDS: Final = tuple(c.name for c in REFERRALS.columns if c.name not in (*SERVICE_FIELDS, "child_id"))
#: Fields given when a referral is made.
CREATE_FIELDS: Final = ("child_id", *EDITABLE_FIELDS)
#: Statuses that count as a child's current referral (only one at a time).
ACTIVE: Final = ("open", "matched")
#: Allowed status changes: a match can fall through (matched -> open).
TRANSITIONS: Final = frozenset({("open", "matched"), ("open", "closed"), ("matched", "closed"), ("matched", "open")})
#: The longest free text kept in a referral's text fields.
MAX_TEXT: Final = 4000
_TEXT_FIELDS: Final = tuple(c.name for c in REFERRALS.columns if c.kind == "text")


class ReferralError(ProblemsError):
    """A referral that cannot be made or changed as given, with every problem at once."""


class ReferralStateError(ValueError):
    """The referral's status does not allow this (changing a closed referral, a status change not allowed)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One write to a referral: made, changed (the fields' names) or its status moved (from, to, why)."""

    kind: str
    fields: tuple[str, ...]
    status_from: str | None
    status_to: str | None
    reason_code: str | None
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class ReferralRecord:
    """A referral as the store keeps it: its id, child, status and every contract field."""

    referral_id: str
    child_id: str
    status: str
    fields: dict[str, Any]


def new_referral_id() -> str:
    """A fresh referral id the service gives (``R-`` and 12 hexadecimal digits)."""
    return "R-" + uuid.uuid4().hex[:12].upper()


def contract_text(value: object) -> str:
    """A field's value as a contract file writes it: lists joined by ``;``, ``true``/``false``, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def check_fields(
    fields: Mapping[str, object], *, today: date, taxonomy: Taxonomy | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """The referral ``fields`` parsed by the contract's rule, and every problem with them (field, a message that
    never repeats the value, and what the contract expects)."""
    text = {name: contract_text(value) for name, value in fields.items()}
    values, found = parse_record(REFERRALS, text, taxonomy=taxonomy or load_taxonomy(), today=today)
    problems: list[Problem] = []
    for p in found:
        name = p.column or "referral"
        label = FIELD_LABELS.get(name, name)
        if p.code == "required":
            verb = "Choose" if REFERRALS.column_index[name].kind == "code" else "Enter"
            message = f"{verb} {label[0].lower()}{label[1:]}"
        elif name == "referral_date" and p.value and "today is" in p.expected:
            message = "The date of the referral must be today or in the past"
        else:
            message = f"{label} is not valid"
        problems.append(Problem(name, message, p.expected.replace("`", "")))
    for name in _TEXT_FIELDS:
        if len(text.get(name, "")) > MAX_TEXT:
            label = FIELD_LABELS[name]
            problems.append(Problem(name, f"{label} must be {MAX_TEXT} characters or fewer", "shorter text"))
    return values, problems


def _unknown(fields: Mapping[str, object], allowed: Sequence[str]) -> list[Problem]:
    out = []
    for name in fields:
        if name in ("child_id", "referral_id", "status") and name not in allowed:
            out.append(Problem(name, f"{FIELD_LABELS[name]} cannot be changed here", "no value"))
        elif name not in allowed:
            out.append(Problem(name, "This is not a field of a referral", "a field of the referral"))
    return out


def _child_problems(conn: Connection, child_id: str | None, scope: Scope, *, except_id: str | None) -> list[Problem]:
    if not child_id:
        return []  # reported by the contract's rule
    stmt = select(s.child.c.la_code, s.child.c.ceased).where(s.child.c.child_id == child_id)
    row = conn.execute(stmt).first()
    if row is None or not scope.sees_child(str(row.la_code)):
        return [Problem("child_id", "Choose a child in your remit", "a child in your remit")]
    if row.ceased is not None:
        return [Problem("child_id", "The child is no longer looked after", "a child who is looked after")]
    if _other_active(conn, child_id, except_id):
        return [
            Problem(
                "child_id",
                "The child already has a referral that is not closed: change that one, or close it first",
                "a child without an open referral",
            )
        ]
    return []


def _other_active(conn: Connection, child_id: str, except_id: str | None) -> bool:
    r = s.referral
    stmt = select(r.c.referral_id).where(r.c.child_id == child_id, r.c.status.in_(ACTIVE))
    if except_id is not None:
        stmt = stmt.where(r.c.referral_id != except_id)
    return conn.execute(stmt.limit(1)).first() is not None


def _history(
    conn: Connection,
    referral_id: str,
    kind: str,
    *,
    fields: Sequence[str],
    actor: Actor,
    now: datetime,
    status_from: str | None = None,
    status_to: str | None = None,
    reason_code: str | None = None,
) -> None:
    conn.execute(
        insert(s.referral_history).values(
            referral_id=referral_id,
            kind=kind,
            status_from=status_from,
            status_to=status_to,
            fields=list(fields),
            reason_code=reason_code,
            changed_by_user_id=actor.user_id,
            changed_by=actor.username,
            changed_at=now,
        )
    )


def create_referral(
    conn: Connection,
    fields: Mapping[str, object],
    *,
    scope: Scope,
    actor: Actor,
    now: datetime,
    taxonomy: Taxonomy | None = None,
) -> str:
    """Make an open referral of ``fields`` (the contract's fields but its id and status) for a child in
    ``scope``; its new id.  :class:`ReferralError` lists every problem and nothing is written."""
    problems = _unknown(fields, CREATE_FIELDS)
    known = {k: v for k, v in fields.items() if k in CREATE_FIELDS}
    referral_id = new_referral_id()
    values, found = check_fields(
        {**known, "referral_id": referral_id, "status": "open"}, today=now.date(), taxonomy=taxonomy
    )
    problems += found
    child_id = values["child_id"] if not any(p.field == "child_id" for p in found) else None
    problems += _child_problems(conn, child_id, scope, except_id=None)
    if problems:
        raise ReferralError(problems)
    conn.execute(insert(s.referral).values(**values))
    given = [name for name in CREATE_FIELDS if contract_text(known.get(name)) != ""]
    _history(conn, referral_id, "created", fields=given, actor=actor, now=now, status_to="open")
    return referral_id


def get_referral(conn: Connection, referral_id: str, *, scope: Scope) -> ReferralRecord | None:
    """The referral of that id if its child is in ``scope`` (None otherwise, whether or not it exists)."""
    r = s.referral
    stmt = select(r, s.child.c.la_code.label("_la")).join(s.child, s.child.c.child_id == r.c.child_id)
    row = conn.execute(stmt.where(r.c.referral_id == referral_id)).mappings().first()
    if row is None or not scope.sees_child(str(row["_la"])):
        return None
    fields = {c.name: row[c.name] for c in REFERRALS.columns}
    return ReferralRecord(str(row["referral_id"]), str(row["child_id"]), str(row["status"]), fields)


def _found(conn: Connection, referral_id: str, scope: Scope) -> ReferralRecord:
    record = get_referral(conn, referral_id, scope=scope)
    if record is None:
        raise ReferralNotFoundError(referral_id)
    return record


def update_referral(
    conn: Connection,
    referral_id: str,
    changes: Mapping[str, object],
    *,
    scope: Scope,
    actor: Actor,
    now: datetime,
    taxonomy: Taxonomy | None = None,
) -> tuple[str, ...]:
    """Change an open referral's fields (not its child, id or status); the names of the fields that changed
    (none: nothing written).  :class:`ReferralNotFoundError` outside ``scope``, :class:`ReferralStateError` when
    it is not open, :class:`ReferralError` with every problem."""
    record = _found(conn, referral_id, scope)
    if record.status != "open":
        raise ReferralStateError("only an open referral can be changed")
    problems = _unknown(changes, EDITABLE_FIELDS)
    merged = {**record.fields, **{k: v for k, v in changes.items() if k in EDITABLE_FIELDS}}
    values, found = check_fields(merged, today=now.date(), taxonomy=taxonomy)
    problems += found
    if problems:
        raise ReferralError(problems)
    changed = tuple(name for name in EDITABLE_FIELDS if values[name] != record.fields[name])
    if not changed:
        return ()
    r = s.referral
    conn.execute(
        update(r)
        .where(r.c.referral_id == referral_id, r.c.status == "open")
        .values(**{name: values[name] for name in changed})
    )
    _history(conn, referral_id, "updated", fields=changed, actor=actor, now=now)
    return changed


def status_problems(to_status: str, reason_code: str | None) -> list[Problem]:
    """What is wrong with a status change as asked (before the referral's own status is looked at)."""
    if to_status not in codes.REFERRAL_STATUS:
        return [Problem("status", "Choose open, matched or closed", "one of " + ", ".join(codes.REFERRAL_STATUS))]
    reasons = STATUS_REASONS[to_status]
    if to_status == "closed" and not reason_code:
        return [Problem("reason_code", "Choose why the referral is being closed", "one of " + ", ".join(reasons))]
    if reason_code and reason_code not in reasons:
        return [Problem("reason_code", "Choose a reason from the list", "one of " + ", ".join(reasons))]
    return []


def change_status(
    conn: Connection,
    referral_id: str,
    to_status: str,
    reason_code: str | None,
    *,
    scope: Scope,
    actor: Actor,
    now: datetime,
) -> str:
    """Move the referral's status (open -> matched or closed, matched -> closed, or back to open when a match
    falls through), with the reason (required for closing); the status it had.  :class:`ReferralError` for a
    bad status or reason, :class:`ReferralStateError` for a change not allowed from its status (nothing
    written), :class:`ReferralNotFoundError` outside ``scope``."""
    record = _found(conn, referral_id, scope)
    if problems := status_problems(to_status, reason_code):
        raise ReferralError(problems)
    before = record.status
    if (before, to_status) not in TRANSITIONS:
        raise ReferralStateError(f"a referral that is {before} cannot be made {to_status}")
    # Only a referral made active again could give the child two; between open and matched the count is the same.
    if to_status in ACTIVE and before not in ACTIVE and _other_active(conn, record.child_id, referral_id):
        raise ReferralStateError("the child has another referral that is not closed")
    r = s.referral
    done = conn.execute(update(r).where(r.c.referral_id == referral_id, r.c.status == before).values(status=to_status))
    if done.rowcount != 1:
        raise ReferralStateError("the referral's status changed meanwhile; look again")
    _history(
        conn,
        referral_id,
        "status",
        fields=("status",),
        actor=actor,
        now=now,
        status_from=before,
        status_to=to_status,
        reason_code=reason_code or None,
    )
    return before


def history(conn: Connection, referral_id: str) -> list[HistoryEntry]:
    """Every write to the referral, oldest first (the caller has checked the referral is in its remit)."""
    h = s.referral_history
    rows = conn.execute(select(h).where(h.c.referral_id == referral_id).order_by(h.c.id)).mappings()
    return [
        HistoryEntry(
            kind=str(row["kind"]),
            fields=tuple(row["fields"] or ()),
            status_from=row["status_from"],
            status_to=row["status_to"],
            reason_code=row["reason_code"],
            changed_by=str(row["changed_by"]),
            changed_at=row["changed_at"],
        )
        for row in rows
    ]
