"""The children waiting for a placement, searched, filtered and paginated as ``GET /v1/referrals`` lists them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.deps import MatchPage
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.routes.pages.common import text_param
from api.schemas import IsoDate
from api.templating import page_context, templates
from matching import codes
from matching.ranking.waiting import URGENCY_LABELS, WaitingEntry, WaitingFilter, waiting_list

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

#: The waiting list's page size, and the filters' choices: age bands and the least time waited.
PAGE_SIZE = 25
AGE_BANDS: dict[str, tuple[int, int, str]] = {
    "0-4": (0, 4, "0 to 4"),
    "5-10": (5, 10, "5 to 10"),
    "11-15": (11, 15, "11 to 15"),
    "16-17": (16, 17, "16 or 17"),
}
WAITED: dict[str, tuple[int, str]] = {
    "7": (7, "at least a week"),
    "28": (28, "at least 4 weeks"),
    "91": (91, "at least 13 weeks"),
}
_CHILD_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class WaitingForm:
    """The waiting list's filters as sent (every field text, "" when not chosen), and what is wrong with them."""

    child_id: str = ""
    la_code: str = ""
    urgency: str = ""
    age: str = ""
    need: str = ""
    placement_type: str = ""
    waited: str = ""

    def errors(self, needs: Sequence[str], las: Sequence[str]) -> list[dict[str, str]]:
        """One error a field, in the words the GOV.UK error summary shows (``href`` is the field)."""
        wrong = []
        if self.child_id and not _CHILD_ID.match(self.child_id):
            wrong.append(("child_id", "Enter the start of a child's id: letters, numbers, '.', '-' and '_' only"))
        choices = {
            "la_code": (las, "Choose an authority from the list"),
            "urgency": (codes.URGENCY, "Choose how soon the placement is needed from the list"),
            "age": (tuple(AGE_BANDS), "Choose an age band from the list"),
            "need": (needs, "Choose a need from the list"),
            "placement_type": (codes.PLACEMENT_TYPES, "Choose a placement type from the list"),
            "waited": (tuple(WAITED), "Choose a waiting time from the list"),
        }
        for name, (allowed, message) in choices.items():
            value = getattr(self, name)
            if value and value not in allowed:
                wrong.append((name, message))
        return [{"field": name, "href": f"#{name}", "text": text} for name, text in wrong]

    def where(self) -> WaitingFilter:
        low, high, _ = AGE_BANDS.get(self.age, (None, None, ""))
        return WaitingFilter(
            la_code=self.la_code or None,
            urgency=self.urgency or None,
            placement_type=self.placement_type or None,
            age_min=low,
            age_max=high,
            need=self.need or None,
            child_id=self.child_id or None,
            min_days_waiting=WAITED[self.waited][0] if self.waited else None,
        )

    def query(self, **changes: str | int) -> str:
        """This form's query string (the fields chosen), with ``changes``."""
        fields: dict[str, str | int] = {k: v for k, v in asdict(self).items() if v}
        fields.update(changes)
        return urlencode(fields)


@router.get("/waiting", response_class=HTMLResponse)
@heavy
def waiting(
    request: Request,
    conn: Connection,
    caller: MatchPage,
    on: Annotated[IsoDate | None, Query()] = None,
    child_id: Annotated[str | None, Query(max_length=200)] = None,
    la_code: Annotated[str | None, Query(max_length=200)] = None,
    urgency: Annotated[str | None, Query(max_length=200)] = None,
    age: Annotated[str | None, Query(max_length=200)] = None,
    need: Annotated[str | None, Query(max_length=200)] = None,
    placement_type: Annotated[str | None, Query(max_length=200)] = None,
    waited: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Open referrals in scope: search by id, filters, most urgent first then the oldest referral, a page at a
    time (the same list and order as ``GET /v1/referrals``: :func:`matching.ranking.waiting.waiting_list`)."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    form = WaitingForm(*(text_param(v) for v in (child_id, la_code, urgency, age, need, placement_type, waited)))
    cache: PoolCache = request.app.state.pools
    needs = {n: d.label for n, d in cache.taxonomy.needs.items()}
    every = waiting_list(conn, scope=caller.scope, on=when)
    las = sorted({e.request.child.la_code for e in every} | set(caller.principal.remit.la_codes))
    errors = form.errors(tuple(needs), las)
    if errors:
        entries: list[WaitingEntry] = []
    else:
        where = form.where()
        entries = [e for e in every if where.admits(e.request)]
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(page, pages)
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = [e.as_dict() for e in shown]
    caller.touch(c for e in shown for c in (e.request.child.child_id, *(s.child_id for s in e.request.siblings)))
    return templates.TemplateResponse(
        request,
        "waiting.html",
        {
            **page_context(request),
            "rows": rows,
            "total": len(entries),
            "on": when.isoformat(),
            "on_given": on is not None,
            "form": form,
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "page": page,
            "pages": pages,
            "first": (page - 1) * PAGE_SIZE + 1,
            "needs": needs,
            "las": las,
            "urgencies": URGENCY_LABELS,
            "placement_types": codes.PLACEMENT_TYPES,
            "age_bands": AGE_BANDS,
            "waited_choices": WAITED,
        },
        status_code=422 if errors else 200,
    )
