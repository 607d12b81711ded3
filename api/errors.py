"""Error replies: one shape, ``{"detail": ...}``, and never the value a caller submitted.

A refusal (401, 403, 404, 409, 413, ...) has ``detail``: a sentence.  A request that fails validation (422) has
``detail``: a list of ``{"loc", "msg", "type"}``, each the path of a field and what is wrong with it.  FastAPI's
default 422 also carries the submitted ``input`` (and ``ctx``, ``url``): a referral's free text would come back in
the reply, and into whatever logs replies.  Here the value is dropped, a message that quotes it is replaced,
a key of the caller's own making in a path is replaced by ``*``, and at most :data:`MAX_ERRORS` problems are
listed.

A browser asking for a page (``/pages/...``) gets the same refusal as a GOV.UK error page instead
(:func:`error_page`): 404, 403, 405, 422 (the same problems, as an error summary) and the rest; a page that
fails gets a 500 page from :mod:`api.middleware`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from api.responses import FastJSONResponse

#: Problems listed in one 422 at most (a body with thousands of bad items gets a short answer).
MAX_ERRORS = 20
#: A part of a field path kept as it is: a name (a field's, a need domain's); a key of the caller's making that is
#: not a plain name (free text) is shown as ``*``, and so is a key refused by its own rule (``[key]`` follows it).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_KEY = "[key]"


def _loc(loc: Sequence[Any]) -> list[str | int]:
    parts = list(loc)
    out: list[str | int] = []
    for i, p in enumerate(parts):
        named = isinstance(p, int) or p == _KEY or (isinstance(p, str) and _NAME.match(p) is not None)
        refused_key = i + 1 < len(parts) and parts[i + 1] == _KEY
        out.append(p if named and not refused_key else "*")
    return out


def _msg(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))[:300]
    submitted = error.get("input")
    if isinstance(submitted, str) and len(submitted) >= 3 and submitted in msg:  # a message quoting the value
        return f"invalid value ({error.get('type', 'value_error')})"
    return msg


def validation_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each problem as ``{"loc", "msg", "type"}``: the path and what is wrong, not the value."""
    problems = [
        {"loc": _loc(e.get("loc", ())), "msg": _msg(e), "type": str(e.get("type", "value_error"))}
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        problems.append(
            {"loc": ["body"], "msg": f"and {len(errors) - MAX_ERRORS} more problems", "type": "too_many_errors"}
        )
    return problems


PAGES_PREFIX = "/pages/"
#: Each status's page: its heading, and what to do next.
PAGE_TITLES: dict[int, tuple[str, str]] = {
    400: ("There is a problem with the request", "Go back and try again."),
    403: ("You cannot do that", "If you think you should be able to, ask your administrator."),
    404: ("Page not found", "If you typed the address, check it is correct. A child's records are shown only "
          "to people whose remit includes the child."),
    405: ("Page not found", "If you typed the address, check it is correct."),
    413: ("What you sent is too large", "Go back and send less."),
    415: ("There is a problem with the form", "Go back and send the form again."),
    422: ("There is a problem with the address", "Go back and choose again from the page's own form."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service", "Try again later. Nothing you asked for was changed."),
    503: ("Sorry, the service is unavailable", "Try again later."),
}  # fmt: skip
_FIELD_NAMES = {"on": "the date", "top": "the number of households", "page": "the page", "child_id": "the child's id"}


def wants_page(request: Request) -> bool:
    """A request for a web page (its refusals are pages, not JSON)."""
    return request.url.path.startswith(PAGES_PREFIX)


def error_page(request: Request | None, status: int, detail: str | None = None,
               problems: Sequence[dict[str, Any]] = ()) -> HTMLResponse:  # fmt: skip
    """A GOV.UK error page for ``status``: its heading, the refusal's sentence and what to do next; for a 422 the
    problems (which field, what is wrong: never the value sent) as an error summary."""
    from api.templating import page_context, templates  # here: the templates need api.auth, which needs this

    title, advice = PAGE_TITLES.get(status, ("Sorry, there is a problem", "Go back and try again."))
    listed = [
        {"text": f"{_FIELD_NAMES.get(str(p['loc'][-1]), str(p['loc'][-1]))}: {p['msg']}" if p["loc"] else p["msg"]}
        for p in problems
    ]
    context = page_context(request) if request is not None else {"who": None}
    html = templates.get_template("error.html").render(
        {**context, "status": status, "title": title, "advice": advice, "detail": detail, "problems": listed}
    )
    return HTMLResponse(html, status_code=status)


async def _validation(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if wants_page(request):
        return error_page(request, 422, problems=validation_problems(errors))
    return FastJSONResponse({"detail": validation_problems(errors)}, status_code=422)


async def _http(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException) or not wants_page(request):
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]
    detail = exc.detail if isinstance(exc.detail, str) else None
    page = error_page(request, exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        page.headers[name] = value
    return page


def install(app: FastAPI) -> None:
    """The 422 handler, and the pages' refusals as pages (the API's are FastAPI's: ``{"detail": "..."}``, with
    their headers)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
