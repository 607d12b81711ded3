"""Error replies: one shape, ``{"detail": ...}``, and never the value a caller submitted.

A refusal (401, 403, 404, 409, 413, ...) has ``detail``: a sentence.  A request that fails validation (422) has
``detail``: a list of ``{"loc", "msg", "type"}``, each the path of a field and what is wrong with it.  FastAPI's
default 422 also carries the submitted ``input`` (and ``ctx``, ``url``): a referral's free text would come back in
the reply, and into whatever logs replies.  Here the value is dropped, a message that quotes it is replaced,
a key of the caller's own making in a path is replaced by ``*``, and at most :data:`MAX_ERRORS` problems are
listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

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


async def _validation(_request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return FastJSONResponse({"detail": validation_problems(errors)}, status_code=422)


def install(app: FastAPI) -> None:
    """The 422 handler (the other refusals are FastAPI's: ``{"detail": "..."}``, with their headers)."""
    app.add_exception_handler(RequestValidationError, _validation)
