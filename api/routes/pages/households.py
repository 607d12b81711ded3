"""A carer household: terms, who lives there, training, track record and the waiting children it could care for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Access, Caller
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import NO_HOUSEHOLD, HouseholdId, IsoDate
from api.templating import page_context, templates
from matching.access import Permission
from matching.eligibility.arithmetic import age_on
from matching.eligibility.rules import rule_label
from matching.ranking import service
from matching.ranking.waiting import URGENCY_LABELS
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

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
