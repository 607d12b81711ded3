"""A carer household: terms, who lives there, training, track record and the waiting children it could care for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.routes.pages.common import text_param
from api.schemas import NO_HOUSEHOLD, HouseholdId, IsoDate
from api.templating import page_context, templates
from matching import codes
from matching.access import Permission
from matching.domain import CarerHousehold
from matching.eligibility.arithmetic import age_on
from matching.eligibility.rules import rule_label
from matching.ranking import service
from matching.ranking.waiting import URGENCY_LABELS
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

HOUSEHOLD_LIST = Access(Permission.READ_HOUSEHOLDS, page=True, audit=False)  # names no child
#: The households list's page size, and its "approved for an age" choices.
HOUSEHOLDS_PAGE_SIZE = 25
VACANCY_CHOICES = {"yes": "With a vacancy", "no": "Full"}
_HOUSEHOLD_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class HouseholdsForm:
    """The households list's filters as sent ("" when not chosen)."""

    household_id: str = ""
    la_code: str = ""
    agency_code: str = ""
    vacancy: str = ""
    age: str = ""

    def errors(self, las: Sequence[str], agencies: Sequence[str]) -> list[dict[str, str]]:
        """One error a field, in the words the GOV.UK error summary shows."""
        wrong = []
        if self.household_id and not _HOUSEHOLD_ID.match(self.household_id):
            wrong.append(
                ("household_id", "Enter the start of a household's id: letters, numbers, '.', '-' and '_' only")
            )
        if self.la_code and self.la_code not in las:
            wrong.append(("la_code", "Choose an authority from the list"))
        if self.agency_code and self.agency_code not in agencies:
            wrong.append(("agency_code", "Choose an agency from the list"))
        if self.vacancy and self.vacancy not in VACANCY_CHOICES:
            wrong.append(("vacancy", "Choose whether the household has a vacancy from the list"))
        if self.age and not (self.age.isdigit() and 0 <= int(self.age) <= 17):
            wrong.append(("age", "Enter an age from 0 to 17 in whole years"))
        return [{"field": name, "href": f"#{name}", "text": text} for name, text in wrong]

    def admits(self, household: CarerHousehold) -> bool:
        """True if ``household`` passes every chosen filter."""
        return (
            (not self.household_id or household.household_id.lower().startswith(self.household_id.lower()))
            and (not self.la_code or household.la_code == self.la_code)
            and (not self.agency_code or household.agency_code == self.agency_code)
            and (not self.vacancy or (household.vacancies > 0) == (self.vacancy == "yes"))
            and (not self.age or household.terms.covers_age(int(self.age)))
        )

    def query(self, **changes: str | int) -> str:
        """This form's query string (the fields chosen), with ``changes``."""
        fields: dict[str, str | int] = {k: v for k, v in asdict(self).items() if v}
        fields.update(changes)
        return urlencode(fields)


@router.get("/households", response_class=HTMLResponse)
@heavy
def households_page(
    request: Request,
    conn: Connection,
    caller: Annotated[Caller, Depends(HOUSEHOLD_LIST)],
    household_id: Annotated[str | None, Query(max_length=200)] = None,
    la_code: Annotated[str | None, Query(max_length=200)] = None,
    agency_code: Annotated[str | None, Query(max_length=200)] = None,
    vacancy: Annotated[str | None, Query(max_length=200)] = None,
    age: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The carer households in the caller's remit, by id: search by id, filters (authority, agency, vacancy, an
    age the household is approved for), a page at a time, with how many places are free in all."""
    cache: PoolCache = request.app.state.pools
    every: list[CarerHousehold] = cache.get_keyed(
        conn,
        ("households", caller.scope),
        lambda: queries.all_households(conn, scope=caller.scope, taxonomy=cache.taxonomy),
    )
    every = sorted(every, key=lambda h: h.household_id)
    form = HouseholdsForm(*(text_param(v) for v in (household_id, la_code, agency_code, vacancy, age)))
    las = sorted({h.la_code for h in every})
    agencies = sorted({h.agency_code for h in every})
    errors = form.errors(las, agencies)
    chosen = [] if errors else [h for h in every if form.admits(h)]
    pages = max(1, -(-len(chosen) // HOUSEHOLDS_PAGE_SIZE))
    page = min(page, pages)
    shown = chosen[(page - 1) * HOUSEHOLDS_PAGE_SIZE : page * HOUSEHOLDS_PAGE_SIZE]
    return templates.TemplateResponse(
        request,
        "households.html",
        {
            **page_context(request),
            "rows": shown,
            "total": len(chosen),
            "free_places": sum(h.vacancies for h in chosen),
            "with_vacancy": sum(1 for h in chosen if h.vacancies > 0),
            "form": form,
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "las": las,
            "agencies": agencies,
            "vacancy_choices": VACANCY_CHOICES,
            "agency": codes.agency_label,
            "page": page,
            "pages": pages,
            "first": (page - 1) * HOUSEHOLDS_PAGE_SIZE + 1,
        },
        status_code=422 if errors else 200,
    )


HOUSEHOLD_PAGE = Access(Permission.READ_HOUSEHOLDS, page=True, audit=False)  # audited when it names children
#: Who lives in a household, as the page says it (ages only: no one's id).
MEMBER_KINDS = {"foster_child": "Foster child", "birth_child": "Birth child", "other_adult": "Other adult"}


@router.get("/households/{household_id}", response_class=HTMLResponse)
@heavy
def household_page(
    request: Request,
    household_id: HouseholdId,
    conn: Connection,
    caller: Annotated[Caller, Depends(HOUSEHOLD_PAGE)],
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """One carer household in the caller's remit: its terms of approval and vacancies, who lives there (ages
    only), training (current or not on the date), track record and, for those who match, the waiting children
    it could best care for (as ``GET /v1/carers/{household_id}/matches`` ranks them, top 10)."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    cache: PoolCache = request.app.state.pools
    household = queries.get_household(conn, scope=caller.scope, household_id=household_id, taxonomy=cache.taxonomy)
    if household is None:
        raise HTTPException(status_code=404, detail=NO_HOUSEHOLD)
    may_read_children = caller.principal.may(Permission.READ_CHILDREN)
    connected: list[str] = []
    named = set(household.terms.connected_child_ids)
    if named and may_read_children:
        visible = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=named)
        connected = [c for c in household.terms.connected_child_ids if c in visible]
    ages = sorted(
        (
            (MEMBER_KINDS.get(m.kind, m.kind.replace("_", " ").capitalize()), age_on(m.birth_month, when))
            for m in (*household.foster_children, *household.members)
        ),
        key=lambda p: (p[0], -p[1]),
    )
    people = [{"kind": kind, "age": age} for kind, age in ages]
    training = [
        {
            "course": cache.taxonomy.provider_label(r.course),
            "completed_on": r.completed_on,
            "expires_on": r.expires_on,
            "current": r.current_on(when),
        }
        for r in sorted(household.training, key=lambda r: (r.completed_on, r.course))
    ]
    may_match = caller.principal.may(Permission.MATCH)
    candidates: list[service.ChildCandidate] = []
    considered = 0
    excluded: list[tuple[str, int]] = []
    if may_match:
        _, candidates, excl, considered = service.rank_children_for_household(
            conn,
            scope=caller.scope,
            household_id=household.household_id,
            on=when,
            cfg=cache.cfg,
            taxonomy=cache.taxonomy,
            top=10,
        )
        excluded = sorted(excl.items(), key=lambda kv: (-kv[1], kv[0]))
    caller.touch([*connected, *(c.child_id for c in candidates)])
    return templates.TemplateResponse(
        request,
        "household.html",
        {
            **page_context(request),
            "household": household,
            "on": when.isoformat(),
            "on_query": f"?on={when.isoformat()}" if on is not None else "",
            "connected": connected,
            "people": people,
            "training": training,
            "may_match": may_match,
            "may_read_children": may_read_children,
            "candidates": candidates,
            "considered": considered,
            "excluded": excluded,
            "urgency_label": URGENCY_LABELS,
            "rule": rule_label,
        },
    )
