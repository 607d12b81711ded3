"""The home page: who is signed in, what needs their attention, and the pages their role may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Caller
from api.limits import as_at
from api.offload import heavy
from api.routes.pages.common import SIGNED_IN
from api.templating import page_context, templates
from matching.access import Permission
from matching.ranking.waiting import waiting_list

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)


@router.get("/home", response_class=HTMLResponse)
@heavy
def home(request: Request, conn: Connection, caller: Annotated[Caller, Depends(SIGNED_IN)]) -> HTMLResponse:
    """Who is signed in, their remit, what needs their attention (for those who match: the children waiting,
    by urgency, as counts) and the pages their role may use."""
    links = []
    attention = []
    if caller.principal.may(Permission.MATCH):
        links.append({"href": "/pages/waiting", "label": "Children waiting for a placement"})
        waiting_now = waiting_list(conn, scope=caller.scope, on=as_at(request, conn))
        for code, text in (("today", "needed today"), ("within_5_days", "needed within 5 days")):
            n = sum(1 for e in waiting_now if e.request.referral.urgency == code)
            if n:
                attention.append({"href": f"/pages/waiting?urgency={code}", "count": n, "text": text})
        attention.append({"href": "/pages/waiting", "count": len(waiting_now), "text": "waiting in all"})
    if caller.principal.may(Permission.STEP_DOWN):
        links.append({"href": "/pages/step-down", "label": "Step-down readiness of children in children's homes"})
    links.append({"href": "/docs", "label": "The API (needs a bearer token)"})
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            **page_context(request),
            "links": links,
            "attention": attention,
            "description": caller.principal.role.description,
        },
    )
