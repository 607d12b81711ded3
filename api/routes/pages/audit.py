"""The audit trail for auditors: search the entries (a child, a user, dates, how it ended), newest first a page
at a time, and verify the chain of hashes.

The rules are ``GET /v1/audit``'s (:mod:`api.routes.audit`): a child searched for must be in the auditor's
remit (else the page says it was not found), an entry's children outside the remit are counted, not named, and
reading the trail is itself recorded with the children shown.  Verifying is ``GET /v1/audit/verify``'s check.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.offload import heavy
from api.routes.audit import AuditEntryOut, _out
from api.routes.pages.common import DATE_PARTS, date_from_fields, text_param
from api.schemas import NO_CHILD
from api.templating import page_context, templates
from matching.access import Permission, Role
from matching.audit import head, recent_entries, verify
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

AUDIT_PAGE = Access(Permission.READ_AUDIT, page=True)
AuditPage = Annotated[Caller, Depends(AUDIT_PAGE)]
PAGE_SIZE = 25
_CHILD_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._@:\-]{1,64}$")

#: How an entry ended, in words, and the outcomes each choice covers (the library's words and HTTP statuses).
OUTCOMES: dict[str, tuple[str, frozenset[str]]] = {
    "succeeded": ("Succeeded", frozenset({"ok", "200", "201", "202", "204", "302", "303", "307"})),
    "refused": ("Refused (not signed in or not allowed)", frozenset({"refused", "401", "403"})),
    "not_found": ("Not found", frozenset({"not_found", "404"})),
    "rejected": ("Not accepted (the request was wrong)", frozenset({"400", "405", "409", "413", "415", "422", "429"})),
    "failed": ("Failed (an error of the service)", frozenset({"error", "500", "502", "503", "504"})),
}
#: What an action of the library means, in words.
ACTIONS = {
    "sign_in": "Signed in",
    "sign_out": "Signed out",
    "user.create": "Added a user account",
    "user.update": "Changed a user account",
    "user.disable": "Disabled a user account",
    "user.enable": "Enabled a user account",
    "user.password_reset": "Reset a user's password",
    "token.issue": "Issued an API token",
    "token.revoke": "Revoked an API token",
    "model.trust": "Trusted a model's files",
    "model.revoke": "Stopped trusting a model's files",
    "child.export": "Exported a child's records for a subject access request",
    "audit.show": "Read a child's audit history",
    "data.import": "Imported data",
}
_VERBS = {
    "GET": "Looked at",
    "HEAD": "Looked at",
    "POST": "Sent",
    "PUT": "Changed",
    "PATCH": "Changed",
    "DELETE": "Deleted",
}


def outcome_words(outcome: str) -> str:
    """How an entry ended, in words (the outcome itself when it is none of the known ones)."""
    for words, covered in OUTCOMES.values():
        if outcome in covered:
            return words.split(" (")[0]
    return f"Outcome {outcome}"


def action_words(action: str) -> str:
    """What an entry records, in words: a library action's meaning, or a request's verb and what it named."""
    if action in ACTIONS:
        return ACTIONS[action]
    method, _, path = action.partition(" ")
    if method in _VERBS and path.startswith("/"):
        where = "the page" if path.startswith("/pages") else "the API's"
        return f"{_VERBS[method]} {where} {path}"
    return action


def role_words(role: str | None) -> str:
    """A role's name for people ("system" for a command or job)."""
    if role is None:
        return "none"
    try:
        return Role(role).label
    except ValueError:
        return role.replace("_", " ")


@dataclass(frozen=True)
class AuditForm:
    """The search as sent (text, "" when not given)."""

    child_id: str = ""
    username: str = ""
    from_day: str = ""
    from_month: str = ""
    from_year: str = ""
    to_day: str = ""
    to_month: str = ""
    to_year: str = ""
    outcome: str = ""

    def _date(self, prefix: str) -> tuple[date | None, str | None, str | None]:
        what = "The date from" if prefix == "from" else "The date to"
        day, month, year = (str(getattr(self, f"{prefix}_{p}")) for p in DATE_PARTS)
        return date_from_fields(day, month, year, what=what)

    def errors(self) -> list[dict[str, str]]:
        """One error a field, in the words the GOV.UK error summary shows (``href`` is the field)."""
        wrong = []
        if self.child_id and not _CHILD_ID.match(self.child_id):
            wrong.append(("child_id", "child_id", "Enter a child's id: letters, numbers, '.', '-' and '_' only"))
        if self.username and not _USERNAME.match(self.username):
            wrong.append(("username", "username", "Enter a username: letters, numbers, '.', '@', '-' and '_' only"))
        since, since_error, since_field = self._date("from")
        until, until_error, until_field = self._date("to")
        if since_error:
            wrong.append(("from", f"from_{since_field or 'day'}", since_error))
        if until_error:
            wrong.append(("to", f"to_{until_field or 'day'}", until_error))
        if since and until and until < since:
            wrong.append(("to", "to_day", "The date to must be the same as or after the date from"))
        if self.outcome and self.outcome not in OUTCOMES:
            wrong.append(("outcome", "outcome", "Choose how the entry ended from the list"))
        return [{"field": field, "href": f"#{anchor}", "text": text} for field, anchor, text in wrong]

    def window(self) -> tuple[datetime | None, datetime | None]:
        """From the start of the date from to the end of the date to, UTC (only for a form without errors)."""
        since = self._date("from")[0]
        until = self._date("to")[0]
        return (
            datetime.combine(since, time(), UTC) if since else None,
            datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
        )

    def query(self, **changes: str | int) -> str:
        """This search's query string (the fields given), with ``changes``."""
        fields: dict[str, str | int] = {k: v for k, v in asdict(self).items() if v}
        fields.update(changes)
        return urlencode(fields)


def _row(entry: AuditEntryOut) -> dict[str, Any]:
    return {
        **entry.model_dump(),
        "when": entry.at[:19].replace("T", " ") + " UTC",
        "role_words": role_words(entry.role),
        "what": action_words(entry.action),
        "outcome_words": outcome_words(entry.outcome),
    }


def _verification(conn: Connection) -> dict[str, Any]:
    """``GET /v1/audit/verify``'s answer: whether the chain holds, its length, its last hash, the first break."""
    broken = verify(conn)
    seq, digest = head(conn)
    return {"ok": broken is None, "entries": seq, "head_sha256": digest, "first_break": str(broken) if broken else None}


@router.get("/audit", response_class=HTMLResponse)
@heavy
def audit(
    request: Request,
    conn: Connection,
    caller: AuditPage,
    child_id: Annotated[str | None, Query(max_length=200)] = None,
    username: Annotated[str | None, Query(max_length=200)] = None,
    from_day: Annotated[str | None, Query(max_length=20)] = None,
    from_month: Annotated[str | None, Query(max_length=20)] = None,
    from_year: Annotated[str | None, Query(max_length=20)] = None,
    to_day: Annotated[str | None, Query(max_length=20)] = None,
    to_month: Annotated[str | None, Query(max_length=20)] = None,
    to_year: Annotated[str | None, Query(max_length=20)] = None,
    outcome: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    verify_chain: Annotated[bool, Query(alias="verify")] = False,
) -> HTMLResponse:
    """Entries of the trail, newest first, a page at a time before entry ``before``: of a child in the auditor's
    remit, of a user, between two dates, that ended one way; with ``verify``, whether the chain of hashes holds."""
    form = AuditForm(
        *(
            text_param(v)
            for v in (child_id, username, from_day, from_month, from_year, to_day, to_month, to_year, outcome)
        )
    )
    errors = form.errors()
    rows: list[dict[str, Any]] = []
    more = False
    searched = any(asdict(form).values())
    if not errors and form.child_id:
        caller.touch([form.child_id])
        if not queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=[form.child_id]):
            errors = [{"field": "child_id", "href": "#child_id", "text": f"There is {NO_CHILD}"}]
    if not errors:
        since, until = form.window()
        entries = recent_entries(
            conn,
            limit=PAGE_SIZE + 1,
            before_seq=before,
            username=form.username or None,
            child_id=form.child_id or None,
            since=since,
            until=until,
            outcomes=OUTCOMES[form.outcome][1] if form.outcome else None,
        )
        more = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        named = {c for e in entries for c in e.child_ids}
        visible = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=named) if named else frozenset()
        caller.touch(visible)
        rows = [_row(_out(e, visible)) for e in entries]
    return templates.TemplateResponse(
        request,
        "audit.html",
        {
            **page_context(request),
            "form": form,
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "rows": rows,
            "more": more,
            "before": before,
            "next_before": rows[-1]["seq"] if more and rows else None,
            "searched": searched,
            "outcomes": [(k, v[0]) for k, v in OUTCOMES.items()],
            "verification": _verification(conn) if verify_chain else None,
        },
        status_code=422 if errors else 200,
    )
