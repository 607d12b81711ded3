"""A child's summary and a child's ranked matches, rendered from the same explanations as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Access, Caller, touch
from api.deps import MatchPage
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import NO_CHILD, ChildId, IsoDate
from api.templating import page_context, templates
from matching import codes
from matching.access import Permission
from matching.domain.child import Child
from matching.eligibility.rules import rule_label
from matching.fit_config import FACTORS
from matching.ranking import service
from matching.ranking.waiting import URGENCY_LABELS
from matching.stepdown.config import load_readiness
from matching.store import queries

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

CHILD_PAGE = Access(Permission.READ_CHILDREN, page=True)


@router.get("/children/{child_id}", response_class=HTMLResponse)
@heavy
def child_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: Annotated[Caller, Depends(CHILD_PAGE)],
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """One child: a summary (age, needs, placement), the wishes and feelings and referral on record, the
    brothers and sisters in the caller's remit, the placement history, and links to the matches and step-down."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    child = queries.get_child(conn, scope=caller.scope, child_id=child_id)
    if child is None:
        raise HTTPException(status_code=404, detail=NO_CHILD)
    referrals = queries.referrals_of(conn, child=child)
    open_referrals = queries.open_referrals_of(conn, child=child)
    referral = open_referrals[-1] if open_referrals else (referrals[-1] if referrals else None)
    siblings: list[Child] = []
    if child.sibling_group_id is not None:
        group, _ = queries.list_children(conn, scope=caller.scope, limit=100, sibling_group_id=child.sibling_group_id)
        siblings = [c for c in sorted(group, key=lambda c: c.child_id) if c.child_id != child.child_id]
    history = queries.child_placements(conn, scope=caller.scope, child_id=child.child_id) or []
    caller.touch([child.child_id, *(c.child_id for c in siblings)])
    cache: PoolCache = request.app.state.pools
    needs = {n: d.label for n, d in cache.taxonomy.needs.items()}
    residential = child.place in load_readiness().settings.placements
    return templates.TemplateResponse(
        request,
        "child.html",
        {
            **page_context(request),
            "child": child,
            "age": child.age_on(when),
            "on_date": when,
            "on": when.isoformat(),
            "on_query": f"?on={when.isoformat()}" if on is not None else "",
            "needs": sorted(child.needs.items(), key=lambda kv: (-kv[1], kv[0])),
            "need_labels": needs,
            "referral": referral,
            "referral_open": bool(open_referrals),
            "urgency_label": URGENCY_LABELS,
            "siblings": siblings,
            "history": history,
            "place": codes.place_label,
            "category": codes.CATEGORY_OF_NEED,
            "may_match": caller.principal.may(Permission.MATCH),
            "may_step_down": caller.principal.may(Permission.STEP_DOWN) and residential,
        },
    )


@router.get("/children/{child_id}/matches", response_class=HTMLResponse)
@heavy
def child_matches_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: MatchPage,
    top: Annotated[int, Query(ge=1, le=service.MAX_TOP)] = 10,
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """A child's ranked matches as a page: a stacked bar of factor contributions per candidate."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    try:
        req = service.request_for_child(conn, scope=caller.scope, child_id=child_id, on=when)
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_CHILD) from exc
    touch(request, (c.child_id for c in req.group))
    cache: PoolCache = request.app.state.pools
    result = service.rank_households(pool=cache.get(conn, caller.scope), request=req, top=top)
    excluded = sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return templates.TemplateResponse(
        request,
        "matches.html",
        {
            **page_context(request),
            "result": result,
            "on_given": on is not None,
            "excluded": excluded,
            "factor_names": FACTORS,
            "provider": cache.taxonomy.provider_label,
            "rule": rule_label,
            "may_read_households": caller.principal.may(Permission.READ_HOUSEHOLDS),
        },
    )
