"""Web pages: the waiting children, and a child's ranked matches rendered from the same explanations."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import ConnectionDep, ScopeDep
from api.pools import PoolCache
from matching.fit_config import FACTORS
from matching.ranking import service

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/waiting", response_class=HTMLResponse)
def waiting(
    request: Request, conn: ConnectionDep, scope: ScopeDep, on: Annotated[date | None, Query()] = None
) -> HTMLResponse:
    """Open referrals in scope, oldest first, each linking to its matches."""
    when = on or date.today()
    rows = [
        {
            "child_id": r.child.child_id,
            "referral_id": r.referral.referral_id,
            "referral_date": r.referral.referral_date,
            "urgency": r.referral.urgency,
            "placement_type": r.referral.placement_type,
            "age": r.age,
            "needs": sorted(r.referral.needs.severities.items(), key=lambda kv: (-kv[1], kv[0])),
        }
        for r in service.waiting_requests(conn, scope=scope, on=when)
    ]
    return templates.TemplateResponse(request, "waiting.html", {"rows": rows, "on": when.isoformat()})


@router.get("/children/{child_id}/matches", response_class=HTMLResponse)
def child_matches_page(
    request: Request,
    child_id: str,
    conn: ConnectionDep,
    scope: ScopeDep,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
    on: Annotated[date | None, Query()] = None,
) -> HTMLResponse:
    """A child's ranked matches as a page: a stacked bar of factor contributions per candidate."""
    try:
        req = service.request_for_child(conn, scope=scope, child_id=child_id, on=on or date.today())
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    cache: PoolCache = request.app.state.pools
    result = service.rank_households(pool=cache.get(conn, scope), request=req, top=top)
    excluded = sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return templates.TemplateResponse(
        request, "matches.html", {"result": result, "excluded": excluded, "factor_names": FACTORS}
    )
