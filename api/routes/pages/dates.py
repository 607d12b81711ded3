""" "Show as on": the date form of every page that takes ``?on=`` (day, month and year fields) checked here, then
back to the page with ``?on=YYYY-MM-DD``; a date that is not real, or outside the dates the store's records allow
(:func:`api.limits.check_date`, the API's message), is shown as a GOV.UK error summary (422)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from api.limits import check_date
from api.offload import heavy
from api.routes.pages.common import SIGNED_IN, date_from_fields, text_param
from api.routes.pages.sign_in import safe_next
from api.templating import page_context, templates

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)


def date_of(day: str, month: str, year: str) -> tuple[date | None, str | None, str | None]:
    """The date the fields give, or what is wrong with them (GOV.UK's date input messages) and the first field
    at fault (``None``: all of them)."""
    when, error, field = date_from_fields(day, month, year)
    if when is None and error is None:
        return None, "Enter the date to show the page as on", None
    return when, error, field


def back_to(next_path: str, on: date) -> str:
    """``next_path`` (a page of this service, else the home page) with ``on`` as its date."""
    path = safe_next(next_path)
    if not path.startswith("/pages/"):
        path = "/pages/home"
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "on"]
    return f"{parts.path}?{urlencode([*query, ('on', on.isoformat())])}"


@router.get("/show-as-on", response_class=HTMLResponse, dependencies=[Depends(SIGNED_IN)])
@heavy
def show_as_on(
    request: Request,
    conn: Connection,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/pages/home",
    day: Annotated[str | None, Query(alias="on-day", max_length=200)] = None,
    month: Annotated[str | None, Query(alias="on-month", max_length=200)] = None,
    year: Annotated[str | None, Query(alias="on-year", max_length=200)] = None,
) -> Response:
    """Back to the page ``next`` as on the date given, or the date form again with what is wrong (422)."""
    fields = {"day": text_param(day)[:8], "month": text_param(month)[:8], "year": text_param(year)[:8]}
    when, error, field = date_of(**fields)
    if when is not None:
        try:
            check_date(request, conn, when, ("query", "on"))
        except RequestValidationError as exc:
            error, field = f"Enter {exc.errors()[0]['msg']}", None
    if error is None and when is not None:
        return RedirectResponse(back_to(next_path, when), status_code=303)
    back = safe_next(next_path) if next_path.startswith("/pages/") else "/pages/home"
    return templates.TemplateResponse(
        request,
        "show_as_on.html",
        {
            **page_context(request),
            "errors": [{"href": f"#on-{field or 'day'}", "text": error}],
            "error": error,
            "error_field": field,
            "values": fields,
            "next": back,
        },
        status_code=422,
    )
