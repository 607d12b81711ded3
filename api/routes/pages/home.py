"""The home page: who is signed in, what needs their attention, and the pages their role may use."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from api.auth import Caller
from api.limits import as_at
from api.offload import heavy
from api.pools import PoolCache
from api.routes.pages.common import SIGNED_IN
from api.templating import navigation, page_context, templates
from matching.access import Permission
from matching.jobs import store as jobs_store
from matching.jobs.store import QUEUED, RUNNING
from matching.ranking.waiting import waiting_list
from matching.referrals.answers import suggestions_for, unanswered
from matching.stepdown.assess import assess_cohort, step_down_pool
from matching.store import queries
from matching.wording import plural

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)


@router.get("/home", response_class=HTMLResponse)
@heavy
def home(request: Request, conn: Connection, caller: Annotated[Caller, Depends(SIGNED_IN)]) -> HTMLResponse:
    """Who is signed in, their remit, what needs their attention (children waiting by urgency, children ready to
    step down, households with a vacancy, their running jobs, as counts linked to the page that lists them) and
    the pages their role may use."""
    p = caller.principal
    when = as_at(request, conn)
    cache: PoolCache = request.app.state.pools
    attention: list[dict[str, object]] = []

    def note(href: str, n: int, noun: str, text: str, many: str | None = None) -> None:
        attention.append({"href": href, "count": n, "noun": plural(n, noun, many), "text": text})

    if p.may(Permission.MATCH):
        waiting_now = waiting_list(conn, scope=caller.scope, on=when)
        for code, text in (("today", "needed today"), ("within_5_days", "needed within 5 days")):
            n = sum(1 for e in waiting_now if e.request.referral.urgency == code)
            if n:
                note(f"/pages/waiting?urgency={code}", n, "child", text, "children")
        note("/pages/waiting", len(waiting_now), "child", "waiting in all", "children")
    if p.may(Permission.STEP_DOWN):
        counts = cache.get_keyed(
            conn, ("step-down-counts", caller.scope, when), lambda: _stage_counts(conn, caller, when)
        )
        if counts.get(READY):
            note(
                f"/pages/step-down?stage={READY}",
                counts[READY],
                "child",
                "in children's homes ready to step down",
                "children",
            )
    if p.may(Permission.READ_REFERRALS):
        awaiting = unanswered(conn, caller.scope.agency_codes or ())
        if awaiting:
            note("/pages/agency/referrals", awaiting, "referral", "sent to your services with no answer yet")
        pending = len(suggestions_for(conn, caller.scope)) if p.may(Permission.ANSWER_REFERRALS) else 0
        if pending:
            note(
                "/pages/agency/suggestions", pending, "change", 'to your carers\' "will not consider" lists to confirm'
            )
    if p.may(Permission.READ_HOUSEHOLDS):
        households = cache.get_keyed(
            conn,
            ("households", caller.scope),
            lambda: queries.all_households(conn, scope=caller.scope, taxonomy=cache.taxonomy),
        )
        note(
            "/pages/households?vacancy=yes",
            sum(1 for h in households if h.vacancies > 0),
            "household",
            "with a vacancy",
        )
    running = (
        [j for j in jobs_store.jobs_of(conn, p.user_id) if j.state in ACTIVE]
        if any(p.may(x) for x in JOB_PERMISSIONS)
        else []
    )
    for kind, href in (("allocation", "/pages/allocations"), ("sufficiency", "/pages/sufficiency")):
        n = sum(1 for j in running if j.kind == kind)
        if n:
            note(href, n, f"{kind} job" if kind == "allocation" else "sufficiency run", "queued or running")
    links = [
        {"href": item["href"], "label": NAV_DESCRIPTIONS.get(str(item["href"]), item["label"])}
        for item in navigation(p, "")[1:]
    ]
    links.append({"href": "/docs", "label": "The API (needs a bearer token)"})
    return templates.TemplateResponse(
        request,
        "home.html",
        {**page_context(request), "links": links, "attention": attention, "description": p.role.description},
    )


READY = "ready_to_start_matching"
#: What each page is for, as the home page lists it.
NAV_DESCRIPTIONS = {
    "/pages/waiting": "Children waiting for a placement, most urgent first",
    "/pages/step-down": "Step-down readiness of children in children's homes",
    "/pages/agency/referrals": "Referrals sent to your services: your households ranked, and the carers' answers",
    "/pages/households": "Carer households, their terms of approval and vacancies",
    "/pages/allocations": "Allocate waiting children to vacancies, compared with first come, first served",
    "/pages/sufficiency": "Sufficiency: demand against places, and what-if scenarios",
    "/pages/monitoring": "Monitoring: how decisions went, and who waits longer or is offered less",
    "/pages/audit": "The audit trail: who looked at which child's records",
    "/pages/admin/users": "Users: add, disable, reset",
    "/pages/admin/imports": "Import a data folder or an SSDA903 return",
    "/pages/models": "Model cards of the models in use",
}
JOB_PERMISSIONS = (Permission.ALLOCATE, Permission.SUFFICIENCY)
ACTIVE = (QUEUED, RUNNING)


def _stage_counts(conn: Connection, caller: Caller, when: date) -> dict[str, int]:
    """Children at each step-down stage in the caller's remit on ``when`` (names no child: not audited)."""
    pool = step_down_pool(conn, scope=caller.scope, on=when)
    return assess_cohort(conn, scope=caller.scope, on=when, candidate_pool=pool).counts()
