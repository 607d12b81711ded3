"""What every page module shares: the signed-in requirement, reading a small urlencoded form and checking its
CSRF token, a text filter as sent, and dates as people write them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from sqlalchemy import Connection

from api.auth import Access, Caller, session_cookie_name
from matching.accounts.sessions import verify_csrf
from matching.jobs import store as jobs_store

#: Any signed-in person (the page itself decides what they see).
SIGNED_IN = Access(None, page=True, audit=False)
#: The largest form a page accepts.
MAX_FORM_BYTES = 8192


async def read_form_lists(
    request: Request, max_fields: int = 10, max_bytes: int = MAX_FORM_BYTES
) -> dict[str, list[str]]:
    """A urlencoded form (at most ``max_bytes``, ``max_fields`` fields): every value of each field (415 for another
    content type, 413 when too large)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(status_code=413, detail="the form is too large")
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:  # more fields than the form has
        raise HTTPException(status_code=413, detail=f"the form has more than {max_fields} fields") from None


async def read_form(request: Request, max_fields: int = 10) -> dict[str, str]:
    """A small urlencoded form (at most :data:`MAX_FORM_BYTES`, ``max_fields`` fields): the first value of each."""
    return {k: v[0] for k, v in (await read_form_lists(request, max_fields)).items()}


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    """Refuse (403) a form that does not carry the session's CSRF token."""
    session_id = request.cookies.get(session_cookie_name(request), "")
    if not session_id or not verify_csrf(session_id, form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="send the form from the page itself (its token had expired)")


def when_text(moment: datetime | None) -> str:
    """A moment as people read it: "1 April 2026 at 09:30 UTC" ("" when there is none)."""
    return "" if moment is None else f"{moment.day} {moment:%B %Y at %H:%M} UTC"


def day_text(value: date | str) -> str:
    """A date as people write it: "1 April 2026" (text that is not an ISO date is returned as it is)."""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {day:%B %Y}"


def text_param(value: str | None) -> str:
    """A text filter as sent: trimmed, at most 64 characters, "" when missing."""
    return (value or "").strip()[:64]


#: A job's state in words, and the GOV.UK tag colour it is shown in.
JOB_STATES: dict[str, tuple[str, str]] = {
    "queued": ("Waiting to start", "govuk-tag--grey"),
    "running": ("Running", "govuk-tag--blue"),
    "done": ("Finished", "govuk-tag--green"),
    "failed": ("Failed", "govuk-tag--red"),
    "cancelled": ("Cancelled", "govuk-tag--grey"),
    "interrupted": ("Interrupted", "govuk-tag--yellow"),
}


def recent_jobs(conn: Connection, caller: Caller, kind: str, limit: int = 10) -> list[jobs_store.Job]:
    """The caller's latest jobs of ``kind`` started from a page or as API jobs (not small direct answers) that
    they may still read (their area still in their remit), newest first, without results."""
    found = jobs_store.jobs_of(conn, caller.principal.user_id, kind=kind, limit=limit * 3)
    readable = [j for j in found if not j.direct and jobs_store.readable_by(j, kind, caller.principal)]
    return readable[:limit]


DATE_PARTS = ("day", "month", "year")


def date_from_fields(
    day: str, month: str, year: str, what: str = "The date"
) -> tuple[date | None, str | None, str | None]:
    """The date a GOV.UK date input's three fields give, or what is wrong with them in the Design System's words
    ("{what} must include a month", "{what} must be a real date", "Year must include 4 numbers") and the first
    field at fault (None: all of them).  All three empty: (None, None, None)."""
    given = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    if not any(given.values()):
        return None, None, None
    if missing := [p for p in DATE_PARTS if not given[p]]:
        return None, f"{what} must include a {' and a '.join(missing)}", missing[0]
    for part in DATE_PARTS:
        if not given[part].isascii() or not given[part].isdigit():
            return None, f"{what} must be a real date", part
    if len(given["year"]) != 4:
        return None, "Year must include 4 numbers", "year"
    try:
        return date(int(given["year"]), int(given["month"]), int(given["day"])), None, None
    except ValueError:
        return None, f"{what} must be a real date", None
