"""The placement plan of a decision that chose a household (Care Planning Regulations 2010 reg 9; Fostering NMS
15): drafted from the decision, edited as new versions, agreed by a named officer, for a child in the caller's
remit.  The generated draft is version 0 and is stored only when it is first saved or agreed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import Decider
from api.jobs import JobRoute
from api.offload import heavy
from api.pools import PoolCache
from api.routes.outcomes import decision_in_remit
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut
from matching.decisions.plan import (
    MAX_SECTION,
    SECTION_KEYS,
    NoPlacementError,
    PlanAgreedError,
    PlanError,
    PlanNotFoundError,
    PlanVersion,
    agree_plan,
    plan_of,
    plan_versions,
    save_plan_version,
)

router = APIRouter(tags=["decisions"], route_class=JobRoute)
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A decision's id.")]
NO_DECISION = "no decision of that id for a child in your remit"
NO_PLACEMENT = "this decision chose no household, so there is no placement to plan"
AGREED = "the plan was agreed: it is final"
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "No household was chosen, or the plan was agreed"}
}
T = TypeVar("T")


class SectionOut(BaseModel):
    """One section of the plan: its key, heading and text."""

    key: str
    heading: str
    text: str


class PlanOut(BaseModel):
    """A version of a decision's plan (version 0: the generated draft, not yet stored)."""

    decision_id: int
    version: int
    state: str = Field(description="draft or agreed (final)")
    sections: list[SectionOut]
    edited_by: str = Field(description="who wrote this version: 'service' for the generated draft")
    edited_at: datetime | None

    @classmethod
    def of(cls, v: PlanVersion) -> PlanOut:
        """The API's view of a version."""
        return cls(
            decision_id=v.decision_id,
            version=v.version,
            state=v.state,
            sections=[SectionOut(key=s.key, heading=s.heading, text=s.text) for s in v.sections],
            edited_by=v.edited_by,
            edited_at=v.edited_at,
        )


class PlanIn(BaseModel):
    """Every section of the plan as the officer wrote it, by key."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sections: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=MAX_SECTION)]] = Field(
        max_length=len(SECTION_KEYS) + 4, description=f"Every section by key: {', '.join(SECTION_KEYS)}."
    )


def plan_call(request: Request, conn: Connection, caller: Caller, decision_id: int, call: Callable[..., T]) -> T:
    """``call(conn, decision_id, scope=..., taxonomy=...)`` for a decision in the caller's remit, its errors as
    the API answers them: 404 outside the remit, 409 no household or agreed, 422 every problem."""
    decision_in_remit(conn, caller, decision_id)
    cache: PoolCache = request.app.state.pools
    try:
        return call(conn, decision_id, scope=caller.scope, taxonomy=cache.taxonomy)
    except PlanNotFoundError:
        raise HTTPException(status_code=404, detail=NO_DECISION) from None
    except NoPlacementError:
        raise HTTPException(status_code=409, detail=NO_PLACEMENT) from None
    except PlanAgreedError:
        raise HTTPException(status_code=409, detail=AGREED) from None
    except PlanError as exc:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("body", "sections", p.field), "msg": p.message, "input": None}
                for p in exc.problems
            ]
        ) from None


def write_now(
    request: Request,
    conn: Connection,
    caller: Caller,
    decision_id: int,
    texts: dict[str, Any] | None,
    status: int = 201,
) -> PlanVersion:
    """Save ``texts`` as the next version (None: agree the current one), audited before the caller commits
    ``conn``: the API's and the pages' one way to write a plan."""
    actor = caller.principal.actor

    def write(conn: Connection, decision_id: int, *, scope: Any, taxonomy: Any) -> PlanVersion:
        if texts is None:
            return agree_plan(conn, decision_id, scope=scope, taxonomy=taxonomy, actor=actor)
        return save_plan_version(conn, decision_id, texts, scope=scope, actor=actor)

    version = plan_call(request, conn, caller, decision_id, write)
    caller.note.detail = f"placement plan version {version.version} ({version.state}) of decision {decision_id}"
    caller.audit_now(request.app.state.audit, status)  # recorded before the version is committed
    return version


@router.get("/v1/decisions/{decision_id}/plan", response_model=PlanOut, responses={**NOT_FOUND, **CONFLICT})
@heavy
def read_plan(request: Request, conn: Connection, decision_id: DecisionId, caller: Decider) -> PlanOut:
    """The current version of the placement plan of a decision that chose a household, for a child in the
    caller's remit: the latest stored, or the draft generated from the decision (version 0) when none is."""
    return PlanOut.of(plan_call(request, conn, caller, decision_id, plan_of))


@router.put(
    "/v1/decisions/{decision_id}/plan",
    status_code=201,
    response_model=PlanOut,
    responses={**NOT_FOUND, **BAD_BODY, **CONFLICT},
)
def save_plan(request: Request, decision_id: DecisionId, body: PlanIn, caller: Decider) -> PlanOut:
    """Save the officer's sections as a new version of the plan (every section, by key).  422 lists every problem
    (a missing or unknown section, one too long); 409 once the plan is agreed."""
    with request.app.state.engine.begin() as conn:
        version = write_now(request, conn, caller, decision_id, dict(body.sections))
    return PlanOut.of(version)


@router.post(
    "/v1/decisions/{decision_id}/plan/agreed",
    status_code=201,
    response_model=PlanOut,
    responses={**NOT_FOUND, **CONFLICT},
)
def agree(request: Request, decision_id: DecisionId, caller: Decider) -> PlanOut:
    """The signed-in officer agrees the current version of the plan: a new version, agreed, final."""
    with request.app.state.engine.begin() as conn:
        version = write_now(request, conn, caller, decision_id, None)
    return PlanOut.of(version)


@router.get(
    "/v1/decisions/{decision_id}/plan/versions", response_model=list[PlanOut], responses={**NOT_FOUND, **CONFLICT}
)
@heavy
def versions(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    decision_id: DecisionId,
    caller: Decider,
) -> list[PlanOut]:
    """Every stored version of the plan, oldest first (none until the draft is first saved or agreed)."""
    decision, _ = decision_in_remit(conn, caller, decision_id)
    if decision.household_id is None:
        raise HTTPException(status_code=409, detail=NO_PLACEMENT)
    return [PlanOut.of(v) for v in plan_versions(conn, decision_id)]
