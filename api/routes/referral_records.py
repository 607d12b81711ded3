"""Referrals as the service's own records: made, read, changed while open, and moved from open to closed, with
who did each and when.  The fields are the data contract's (Placements Standard v2), checked by the contract's
own rule in :mod:`matching.referrals`; the waiting list of open referrals is ``GET /v1/referrals``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.deps import Matcher
from api.jobs import JobRoute
from api.offload import heavy
from api.pools import PoolCache
from api.routes.decisions import NO_REFERRAL, ReferralId
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut, IsoDate
from matching.access import Permission
from matching.contract.spec import REFERRALS, Column
from matching.referrals import (
    CREATE_FIELDS,
    EDITABLE_FIELDS,
    HistoryEntry,
    ReferralError,
    ReferralNotFoundError,
    ReferralRecord,
    ReferralStateError,
    change_status,
    create_referral,
    get_referral,
    history,
    update_referral,
)
from matching.referrals.records import MAX_TEXT
from matching.referrals.words import STATUS_LABELS, STATUS_REASONS, reason_label

router = APIRouter(prefix="/v1/referrals", tags=["referrals"], route_class=JobRoute)  # 405 names every method

REFER = Access(Permission.REFER)
Referrer = Annotated[Caller, Depends(REFER)]
Short = Annotated[str, Field(max_length=64)]
WRONG_STATE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The referral's status does not allow this"}
}


def _field_type(column: Column) -> Any:
    """The JSON type of a contract column; the contract's rule checks the value itself (codes, ranges, dates)."""
    kind = column.kind
    if kind == "date":
        return IsoDate
    if kind == "text":
        return Annotated[str, Field(max_length=MAX_TEXT)]
    if kind in ("codes", "ids", "words"):
        return Annotated[list[Short], Field(max_length=30)]
    return {"int": int, "float": float, "bool": bool}.get(kind, Short)


def _description(column: Column) -> str:
    text = column.description
    if isinstance(column.allowed, tuple):
        text += " Codes: " + ", ".join(f"`{c}`" for c in column.allowed) + "."
    if column.unit:
        text += f" In {column.unit}."
    if column.required:
        text += " Required."
    elif column.default is not None:
        text += f" Default `{column.default}`."
    return text


def _model(name: str, fields: tuple[str, ...], doc: str) -> type[BaseModel]:
    spec: dict[str, Any] = {}
    for field in fields:
        column = REFERRALS.column_index[field]
        kind = _field_type(column)
        if field == "child_id":
            spec[field] = (Short, Field(description=_description(column)))
        else:
            spec[field] = (kind | None, Field(default=None, description=_description(column)))
    model = create_model(name, __config__=ConfigDict(extra="forbid", strict=True), **spec)
    model.__doc__ = doc
    return model


ReferralIn = _model("ReferralIn", CREATE_FIELDS, "A new referral: the contract's fields (the service gives its id).")
ReferralChange = _model(
    "ReferralChange",
    EDITABLE_FIELDS,
    "Changes to an open referral: only the fields sent are changed (not the child, the id or the status).",
)


class StatusIn(BaseModel):
    """A status change, with why (required to close)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: Short = Field(description="`open`, `matched` or `closed`.")
    reason_code: Short | None = Field(
        default=None,
        description="; ".join(f"to {to}: {', '.join(reasons)}" for to, reasons in STATUS_REASONS.items()),
    )


class HistoryOut(BaseModel):
    """One write to a referral: who, what (names of the fields, never their values) and when."""

    kind: str = Field(description="created, updated or status")
    fields: list[str]
    status_from: str | None
    status_to: str | None
    reason_code: str | None
    reason: str = Field(description="The reason in plain words (empty when none).")
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, e: HistoryEntry) -> HistoryOut:
        """The API's view of a history entry."""
        return cls(
            kind=e.kind,
            fields=list(e.fields),
            status_from=e.status_from,
            status_to=e.status_to,
            reason_code=e.reason_code,
            reason=reason_label(e.reason_code),
            changed_by=e.changed_by,
            changed_at=e.changed_at,
        )


class ReferralOut(BaseModel):
    """A referral: its status and every contract field, and who changed it and when."""

    referral_id: str
    child_id: str
    status: str
    status_label: str
    fields: dict[str, Any] = Field(description="The contract's fields, as recorded.")
    history: list[HistoryOut]

    @classmethod
    def of(cls, record: ReferralRecord, entries: list[HistoryEntry]) -> ReferralOut:
        """The API's view of a referral and its history."""
        return cls(
            referral_id=record.referral_id,
            child_id=record.child_id,
            status=record.status,
            status_label=STATUS_LABELS.get(record.status, record.status),
            fields=record.fields,
            history=[HistoryOut.of(e) for e in entries],
        )


def unprocessable(exc: ReferralError, prefix: tuple[str, ...] = ("body",)) -> RequestValidationError:
    """A 422 naming each field at fault with what it expects; never the value sent."""
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": (*prefix, p.field),
                "msg": p.message,
                "input": None,
                "ctx": {"expected": p.expected or ""},
            }
            for p in exc.problems
        ]
    )


def read_referral(conn: Connection, caller: Caller, referral_id: str) -> ReferralRecord:
    """The referral if its child is in the caller's remit (touched), else 404."""
    record = get_referral(conn, referral_id, scope=caller.scope)
    if record is None:
        raise HTTPException(status_code=404, detail=NO_REFERRAL)
    caller.touch([record.child_id])
    return record


def written(request: Request, caller: Caller, child_id: str, detail: str, status: int) -> None:
    """Audit a write to a referral of ``child_id`` before the caller commits it."""
    caller.touch([child_id])
    caller.note.detail = detail
    caller.audit_now(request.app.state.audit, status)


def after_write(request: Request) -> None:
    """Drop what the app keeps that was built from referrals (after the write is committed)."""
    cache: PoolCache = request.app.state.pools
    cache.referrals_changed()


def create_now(request: Request, conn: Connection, caller: Caller, fields: dict[str, Any]) -> str:
    """Make a referral for the caller (audited before the caller commits ``conn``): the API's and the pages'
    one way.  :class:`ReferralError` with every problem."""
    cache: PoolCache = request.app.state.pools
    rid = create_referral(
        conn,
        fields,
        scope=caller.scope,
        actor=caller.principal.actor,
        now=datetime.now(UTC),
        taxonomy=cache.taxonomy,
    )
    written(request, caller, str(fields["child_id"]), f"referral {rid} made", 201)
    return rid


def update_now(request: Request, conn: Connection, caller: Caller, referral_id: str, changes: dict[str, Any]) -> None:
    """Change an open referral in the caller's remit (audited before commit): 404, 409 (not open), or
    :class:`ReferralError`."""
    cache: PoolCache = request.app.state.pools
    record = read_referral(conn, caller, referral_id)
    try:
        changed = update_referral(
            conn,
            referral_id,
            changes,
            scope=caller.scope,
            actor=caller.principal.actor,
            now=datetime.now(UTC),
            taxonomy=cache.taxonomy,
        )
    except ReferralNotFoundError:
        raise HTTPException(status_code=404, detail=NO_REFERRAL) from None
    except ReferralStateError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    if changed:
        written(request, caller, record.child_id, f"referral {referral_id} changed: {', '.join(changed)}", 200)


def status_now(
    request: Request, conn: Connection, caller: Caller, referral_id: str, to_status: str, reason: str | None
) -> None:
    """Move a referral's status (audited before commit): 404, 409 (not allowed from its status), or
    :class:`ReferralError`."""
    record = read_referral(conn, caller, referral_id)
    try:
        change_status(
            conn,
            referral_id,
            to_status,
            reason,
            scope=caller.scope,
            actor=caller.principal.actor,
            now=datetime.now(UTC),
        )
    except ReferralNotFoundError:
        raise HTTPException(status_code=404, detail=NO_REFERRAL) from None
    except ReferralStateError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    written(request, caller, record.child_id, f"referral {referral_id} made {to_status}", 200)


def _answer(conn: Connection, caller: Caller, referral_id: str) -> ReferralOut:
    return ReferralOut.of(read_referral(conn, caller, referral_id), history(conn, referral_id))


@router.post("", status_code=201, response_model=ReferralOut, responses=BAD_BODY)
def create(request: Request, body: ReferralIn, caller: Referrer) -> ReferralOut:  # type: ignore[valid-type]
    """Make an open referral for a child in the caller's remit who has no other referral that is not closed.
    The service gives its id.  422 lists every problem with its field (the contract's rule)."""
    fields = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    with request.app.state.engine.begin() as conn:
        try:
            rid = create_now(request, conn, caller, fields)
        except ReferralError as exc:
            raise unprocessable(exc) from None
        answer = _answer(conn, caller, rid)
    after_write(request)
    return answer


@router.get("/{referral_id}", response_model=ReferralOut, responses=NOT_FOUND)
@heavy
def read(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    referral_id: ReferralId,
    caller: Matcher,
) -> ReferralOut:
    """A referral of a child in the caller's remit, its status and its history; 404 otherwise."""
    return _answer(conn, caller, referral_id)


@router.patch("/{referral_id}", response_model=ReferralOut, responses={**NOT_FOUND, **BAD_BODY, **WRONG_STATE})
def change(request: Request, referral_id: ReferralId, body: ReferralChange, caller: Referrer) -> ReferralOut:  # type: ignore[valid-type]
    """Change the fields sent of an open referral (not its child, id or status).  409 when it is not open; 422
    lists every problem with its field."""
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    with request.app.state.engine.begin() as conn:
        try:
            update_now(request, conn, caller, referral_id, changes)
        except ReferralError as exc:
            raise unprocessable(exc) from None
        answer = _answer(conn, caller, referral_id)
    after_write(request)
    return answer


@router.post("/{referral_id}/status", response_model=ReferralOut, responses={**NOT_FOUND, **BAD_BODY, **WRONG_STATE})
def move(request: Request, referral_id: ReferralId, body: StatusIn, caller: Referrer) -> ReferralOut:
    """Move the referral's status: open to matched or closed, matched to closed, or matched back to open when
    the placement fell through.  Closing needs a reason from the list.  409 for a change not allowed."""
    with request.app.state.engine.begin() as conn:
        try:
            status_now(request, conn, caller, referral_id, body.status, body.reason_code)
        except ReferralError as exc:
            raise unprocessable(exc) from None
        answer = _answer(conn, caller, referral_id)
    after_write(request)
    return answer


@router.get("/{referral_id}/history", response_model=list[HistoryOut], responses=NOT_FOUND)
@heavy
def read_history(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    referral_id: ReferralId,
    caller: Matcher,
) -> list[HistoryOut]:
    """Who made, changed and moved the referral's status, and when, oldest first (names of fields, never
    values)."""
    read_referral(conn, caller, referral_id)
    return [HistoryOut.of(e) for e in history(conn, referral_id)]
