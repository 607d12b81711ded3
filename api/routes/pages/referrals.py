"""Making, reading, changing and closing a referral on the pages, through the API's own ways
(:mod:`api.routes.referral_records`: the contract's rule, the remit, the write audited before it is committed)
with the library's messages for every problem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.deps import MatchPage
from api.offload import heavy, limiter
from api.routes.decisions import ReferralId
from api.routes.pages.common import check_csrf, date_from_fields, day_text, read_form_lists, when_text
from api.routes.referral_records import (
    after_write,
    create_now,
    read_referral,
    status_now,
    update_now,
)
from api.schemas import NO_CHILD, ChildId
from api.templating import page_context, templates
from matching.access import Permission
from matching.contract.spec import REFERRALS
from matching.decisions.decision import Problem
from matching.referrals import EDITABLE_FIELDS, TRANSITIONS, ReferralError, ReferralRecord, history
from matching.referrals.records import MAX_TEXT, contract_text
from matching.referrals.words import (
    CODE_LABELS,
    FIELD_LABELS,
    STATUS_LABELS,
    STATUS_REASONS,
    code_label,
    reason_label,
)
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

REFER_PAGE = Access(Permission.REFER, page=True)
ReferPage = Annotated[Caller, Depends(REFER_PAGE)]
FORM_BYTES, FORM_FIELDS = 48 * 1024, 200
#: Yes/no fields, sent as ticked boxes named ``flags``.
FLAGS = tuple(c.name for c in REFERRALS.columns if c.kind == "bool")
#: Code lists, sent as ticked boxes under their own names.
LISTS = tuple(c.name for c in REFERRALS.columns if c.kind == "codes")
#: Fields typed as text (numbers included: the contract's rule reads them).
TYPED = ("expected_duration_days", "expected_duration_weeks", "max_distance_miles", "wishes_text", "cultural_needs")
#: Fields chosen from radios.
CHOSEN = ("urgency", "placement_type", "live_alongside")
#: Each section of the form: its heading and its fields.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("When and what is needed", ("referral_date", "urgency", "placement_type", "suitable_for")),
    ("Expected stay and distance", ("expected_duration_days", "expected_duration_weeks", "max_distance_miles")),
    ("Risks", ("risks_to_child", "risks_to_others", "dolo")),
    (
        "What the home needs to offer",
        ("live_alongside", "allergies", "respiratory_needs", "communication_needs", "needs_adaptation"),
    ),
    ("Wishes and feelings", ("wishes_text", "wish_near_school", "wish_near_family", "wish_same_religion")),
    ("", ("wish_same_language", "wish_pets")),
    ("Cultural, religious and identity needs", ("cultural_needs", "emergency_outside_terms")),
)
FIELD_HINTS = {
    "expected_duration_days": "Whole days. Read before the weeks: an emergency may go outside the carers' terms of "
    "approval only for a stay under 6 days.",
    "expected_duration_weeks": "Whole weeks.",
    "max_distance_miles": "Leave empty if any distance will do.",
    "wishes_text": "In the child's words where you can.",
    "cultural_needs": "In the child's words or the social worker's.",
}


def _empty_form() -> dict[str, Any]:
    form: dict[str, Any] = dict.fromkeys((*TYPED, *CHOSEN), "")
    form.update({name: [] for name in LISTS})
    form["flags"] = []
    form["referral_date"] = {"day": "", "month": "", "year": ""}
    form["live_alongside"] = "any"
    form["suitable_for"] = ["foster"]
    return form


def _form_of_record(record: ReferralRecord) -> dict[str, Any]:
    form = _empty_form()
    f = record.fields
    for name in (*TYPED, *CHOSEN):
        form[name] = contract_text(f.get(name))
    for name in LISTS:
        form[name] = list(f.get(name) or [])
    form["flags"] = [name for name in FLAGS if f.get(name)]
    day = f.get("referral_date")
    if day is not None:
        form["referral_date"] = {"day": str(day.day), "month": str(day.month), "year": str(day.year)}
    return form


def _form_of(raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """The submitted form, each text cut to a little over what the library accepts (so it still says so)."""
    form = _empty_form()
    for name in (*TYPED, *CHOSEN):
        form[name] = (raw.get(name) or [""])[0][: MAX_TEXT + 1]
    for name in (*LISTS, "flags"):
        form[name] = list(dict.fromkeys(v[:64] for v in raw.get(name, [])))
    form["referral_date"] = {p: (raw.get(f"referral_date-{p}") or [""])[0][:8] for p in ("day", "month", "year")}
    return form


def _fields(form: Mapping[str, Any]) -> tuple[dict[str, object], list[Problem]]:
    """The referral's fields the form gives (as contract text), and what is wrong with its date boxes."""
    fields: dict[str, object] = {name: form[name] for name in (*TYPED, *CHOSEN)}
    fields.update({name: form[name] for name in LISTS})
    fields.update({name: name in form["flags"] for name in FLAGS})
    parts = form["referral_date"]
    day, message, _ = date_from_fields(parts["day"], parts["month"], parts["year"], "The date of the referral")
    found = [Problem("referral_date", message)] if message else []
    fields["referral_date"] = day if day is not None else ""
    return fields, found


def _errors(found: Sequence[Problem]) -> list[dict[str, str]]:
    out = []
    seen: set[str] = set()
    for p in found:
        if p.field in seen:
            continue  # one message a field (the date boxes' own first)
        seen.add(p.field)
        if p.field == "referral_date":
            anchor = "referral_date-day"
        elif p.field in LISTS or p.field in CHOSEN:
            first = next(iter(CODE_LABELS.get(p.field, {})), "")
            anchor = f"{p.field}-{first}"
        else:
            anchor = p.field
        out.append({"field": p.field, "href": f"#{anchor}", "text": p.message})
    return out


def _form_page(
    request: Request,
    *,
    child_id: str,
    action: str,
    title: str,
    form: Mapping[str, Any],
    errors: Sequence[dict[str, str]] = (),
    referral_id: str | None = None,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "referral_form.html",
        {
            **page_context(request),
            "child_id": child_id,
            "referral_id": referral_id,
            "action": action,
            "title": title,
            "form": form,
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "sections": SECTIONS,
            "labels": FIELD_LABELS,
            "hints": FIELD_HINTS,
            "codes": CODE_LABELS,
            "flags": FLAGS,
            "lists": LISTS,
            "chosen": CHOSEN,
            "max_text": MAX_TEXT,
        },
        status_code=422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _child_in_remit(conn: Connection, caller: Caller, child_id: str) -> None:
    if queries.get_child(conn, scope=caller.scope, child_id=child_id) is None:
        raise HTTPException(status_code=404, detail=NO_CHILD)
    caller.touch([child_id])


@router.get("/children/{child_id}/referrals/new", response_class=HTMLResponse)
@heavy
def new_referral_form(request: Request, child_id: ChildId, conn: Connection, caller: ReferPage) -> HTMLResponse:
    """The form to make a referral for a child in the caller's remit."""
    _child_in_remit(conn, caller, child_id)
    return _form_page(
        request,
        child_id=child_id,
        action=f"/pages/children/{child_id}/referrals/new",
        title=f"Make a referral for {child_id}",
        form=_empty_form(),
    )


@router.post("/children/{child_id}/referrals/new", response_class=HTMLResponse)
async def make_referral(request: Request, child_id: ChildId, caller: ReferPage) -> Response:
    """Make the referral (as ``POST /v1/referrals`` does: checked, audited); every problem: the form again (422);
    done: the referral's page (303)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    check_csrf(request, {k: v[0] for k, v in raw.items()})
    form = _form_of(raw)
    fields, found = _fields(form)

    def make() -> Response:
        problems = list(found)
        rid = None
        with request.app.state.engine.begin() as conn:
            _child_in_remit(conn, caller, child_id)
            try:  # asked even when the date boxes are wrong, so that every problem is listed at once
                rid = create_now(request, conn, caller, {"child_id": child_id, **fields})
            except ReferralError as exc:
                problems += exc.problems
        if rid is None:
            return _form_page(
                request,
                child_id=child_id,
                action=f"/pages/children/{child_id}/referrals/new",
                title=f"Make a referral for {child_id}",
                form=form,
                errors=_errors(problems),
            )
        after_write(request)
        return RedirectResponse(f"/pages/referrals/{rid}", status_code=303)

    return await anyio.to_thread.run_sync(make, limiter=limiter(request.app))


def _shown(record: ReferralRecord) -> list[tuple[str, str]]:
    """The referral's fields in words: each label and what was recorded ("" fields left out)."""
    rows = []
    f = record.fields
    for column in REFERRALS.columns:
        name = column.name
        if name in ("referral_id", "child_id", "status"):
            continue
        value = f.get(name)
        if column.kind == "bool":
            if value:
                rows.append((FIELD_LABELS[name], "Yes"))
            continue
        if value in (None, "", []):
            continue
        if column.kind == "codes":
            text = ", ".join(code_label(name, v) for v in value)
        elif column.kind == "code":
            text = code_label(name, str(value))
        elif column.kind == "date":
            text = day_text(value)
        else:
            text = contract_text(value)
        rows.append((FIELD_LABELS[name], text))
    return rows


def _referral_page(
    request: Request,
    conn: Connection,
    caller: Caller,
    record: ReferralRecord,
    errors: Sequence[dict[str, str]] = (),
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    p = caller.principal
    moves = [to for (frm, to) in sorted(TRANSITIONS) if frm == record.status]
    entries = [
        {
            "who": e.changed_by,
            "what": _what(e.kind, e.fields, e.status_from, e.status_to, e.reason_code),
            "when": when_text(e.changed_at),
        }
        for e in history(conn, record.referral_id)
    ]
    response = templates.TemplateResponse(
        request,
        "referral.html",
        {
            **page_context(request),
            "r": record,
            "status_label": STATUS_LABELS.get(record.status, record.status),
            "rows": _shown(record),
            "entries": entries,
            "may_refer": p.may(Permission.REFER),
            "may_decide": p.may(Permission.DECIDE) and record.status == "open",
            "moves": [(to, STATUS_LABELS[to]) for to in moves],
            "reasons": STATUS_REASONS,
            "errors": list(errors),
            "error_for": {e["field"]: e["text"] for e in errors},
            "form": form or {"status": "", "reason_code": ""},
        },
        status_code=422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _what(kind: str, fields: Sequence[str], before: str | None, after: str | None, reason: str | None) -> str:
    """A history entry in words (the names of the fields changed, never their values)."""
    if kind == "created":
        return "Made the referral"
    if kind == "updated":
        return "Changed: " + ", ".join(FIELD_LABELS.get(f, f).lower() for f in fields)
    said = f"Status changed from {(before or '').lower()} to {(after or '').lower()}"
    return said + (f": {reason_label(reason).lower()}" if reason else "")


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
@heavy
def referral_page(request: Request, referral_id: ReferralId, conn: Connection, caller: MatchPage) -> HTMLResponse:
    """A referral in plain words, its status and who changed it and when, with what can be done next."""
    return _referral_page(request, conn, caller, read_referral(conn, caller, referral_id))


@router.get("/referrals/{referral_id}/edit", response_class=HTMLResponse)
@heavy
def edit_form(request: Request, referral_id: ReferralId, conn: Connection, caller: ReferPage) -> HTMLResponse:
    """The form to change an open referral."""
    record = read_referral(conn, caller, referral_id)
    if record.status != "open":
        raise HTTPException(status_code=409, detail="only an open referral can be changed")
    return _form_page(
        request,
        child_id=record.child_id,
        referral_id=referral_id,
        action=f"/pages/referrals/{referral_id}/edit",
        title=f"Change referral {referral_id}",
        form=_form_of_record(record),
    )


@router.post("/referrals/{referral_id}/edit", response_class=HTMLResponse)
async def edit_referral(request: Request, referral_id: ReferralId, caller: ReferPage) -> Response:
    """Change the referral (as ``PATCH /v1/referrals/{referral_id}``); every problem: the form again (422)."""
    raw = await read_form_lists(request, max_fields=FORM_FIELDS, max_bytes=FORM_BYTES)
    check_csrf(request, {k: v[0] for k, v in raw.items()})
    form = _form_of(raw)
    fields, found = _fields(form)
    changes = {k: v for k, v in fields.items() if k in EDITABLE_FIELDS}

    def edit() -> Response:
        problems = list(found)
        with request.app.state.engine.begin() as conn:
            record = read_referral(conn, caller, referral_id)
            try:  # the date boxes' problem, if any, makes the library refuse too: every problem at once
                update_now(request, conn, caller, referral_id, changes)
            except ReferralError as exc:
                problems += exc.problems
        if problems:
            return _form_page(
                request,
                child_id=record.child_id,
                referral_id=referral_id,
                action=f"/pages/referrals/{referral_id}/edit",
                title=f"Change referral {referral_id}",
                form=form,
                errors=_errors(problems),
            )
        return RedirectResponse(f"/pages/referrals/{referral_id}", status_code=303)

    return await anyio.to_thread.run_sync(edit, limiter=limiter(request.app))


@router.post("/referrals/{referral_id}/status", response_class=HTMLResponse)
async def change_status_page(request: Request, referral_id: ReferralId, caller: ReferPage) -> Response:
    """Move the referral's status (as ``POST /v1/referrals/{referral_id}/status``); a problem: the page again."""
    raw = await read_form_lists(request, max_fields=10)
    form = {k: v[0][:64] for k, v in raw.items()}
    check_csrf(request, form)
    to = form.get("status", "")
    reason = form.get(f"reason_code-{to}", "") if to else ""

    def move() -> Response:
        with request.app.state.engine.begin() as conn:
            record = read_referral(conn, caller, referral_id)
            problems: list[Problem] = []
            if not to:
                problems = [Problem("status", "Choose the new status")]
            else:
                try:
                    status_now(request, conn, caller, referral_id, to, reason or None)
                except ReferralError as exc:
                    problems = list(exc.problems)
            if problems:  # nothing was written
                errors = [
                    {
                        "field": p.field,
                        "href": f"#reason_code-{to}" if p.field == "reason_code" else "#status-0",
                        "text": p.message,
                    }
                    for p in problems
                ]
                return _referral_page(request, conn, caller, record, errors, {"status": to, "reason_code": reason})
        after_write(request)
        return RedirectResponse(f"/pages/referrals/{referral_id}", status_code=303)

    return await anyio.to_thread.run_sync(move, limiter=limiter(request.app))
