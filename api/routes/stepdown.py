"""Step-down readiness: the cohort of children in children's homes, and one child (their pages:
:mod:`api.routes.pages.step_down`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Connection

from api.auth import touch
from api.deps import StepDownScope
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.responses import FastJSONResponse
from api.schemas import NOT_FOUND, ChildId, IsoDate
from api.stepdown_schemas import ChildStepDownOut, CohortOut, Stage
from matching.domain import Scope
from matching.stepdown.assess import Cohort, assess_cohort, step_down_pool

router = APIRouter(tags=["step-down"])
On = Annotated[IsoDate | None, Query(description="Assessment date YYYY-MM-DD (default: the store's as-at date).")]


def _cohort(request: Request, conn: Connection, scope: Scope, on: date | None, child_id: str | None) -> Cohort:
    when = on_or_as_at(request, conn, on, ("query", "on"))
    cache: PoolCache = request.app.state.pools
    pool = cache.get_keyed(conn, ("step-down-pool", scope, when), lambda: step_down_pool(conn, scope=scope, on=when))
    if child_id is None:  # the whole cohort, kept until the next import (or a model trusted or revoked)
        cohort = cache.get_keyed(
            conn,
            ("step-down-cohort", scope, when),
            lambda: assess_cohort(conn, scope=scope, on=when, candidate_pool=pool),
        )
    else:
        cohort = assess_cohort(conn, scope=scope, on=when, child_id=child_id, candidate_pool=pool)
    touch(request, (a.child_id for a in cohort.children))
    return cohort


@router.get("/v1/step-down", response_model=CohortOut)
@heavy
def cohort(request: Request, conn: Connection, scope: StepDownScope, stage: Stage | None = None, on: On = None):  # type: ignore[no-untyped-def]
    """Every child in a children's home in scope (and those recently stepped down), optionally one stage."""
    c = _cohort(request, conn, scope, on, None)
    return FastJSONResponse(
        {
            "assessed_on": c.assessed_on.isoformat(),
            "model": c.model_note,
            "counts": c.counts(),
            "costs": c.costs(),
            "children": [a.as_dict() for a in c.children if stage is None or a.stage == stage],
            "proposal": None if c.proposal is None else c.proposal.as_dict(),
        }
    )


@router.get("/v1/children/{child_id}/step-down", response_model=ChildStepDownOut, responses=NOT_FOUND)
@heavy
def child_step_down(request: Request, child_id: ChildId, conn: Connection, scope: StepDownScope, on: On = None):  # type: ignore[no-untyped-def]
    """One child's readiness: indicators with evidence, blockers, actions, family options and costs."""
    c = _cohort(request, conn, scope, on, child_id)
    if not c.children:
        raise HTTPException(
            status_code=404,
            detail="no child with that id in a residential placement (or recently stepped down) in your remit",
        )
    return FastJSONResponse({**c.children[0].as_dict(), "model": c.model_note})
