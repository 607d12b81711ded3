"""What happened after a decision: the placement it chose started, ended (with the SSDA903 reason, REC) or never
started (and why), recorded by a placement officer for a child in their remit and read back with where the
placement stands."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import Decider
from api.jobs import JobRoute
from api.offload import heavy
from api.schemas import BAD_BODY, NOT_FOUND, IsoDate
from matching.decisions import Decision
from matching.decisions.decision import MAX_TEXT
from matching.decisions.outcomes import (
    END_REASONS,
    NOT_STARTED_REASONS,
    Outcome,
    OutcomeError,
    outcomes_for,
    placement_state,
    record_outcome,
)
from matching.decisions.store import decision_by_id
from matching.store import queries

router = APIRouter(tags=["decisions"], route_class=JobRoute)
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A decision's id.")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")]
NO_DECISION = "no decision of that id for a child in your remit"


class OutcomeIn(BaseModel):
    """What happened to the placement a decision chose."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["started", "ended", "not_started"]
    on: IsoDate | None = Field(
        default=None,
        description="The day the placement started or ended, or it was known it would not start: on or after the "
        "day of the decision, and not after today.",
    )
    reason: Code | None = Field(
        default=None,
        description=f"Ended: an SSDA903 REC code ({', '.join(END_REASONS)}). Did not start: "
        f"{', '.join(NOT_STARTED_REASONS)}. None for a start.",
    )
    reason_text: str | None = Field(default=None, max_length=MAX_TEXT, description="More about what happened.")


class OutcomeOut(BaseModel):
    """A recorded outcome."""

    id: int
    decision_id: int
    kind: str
    on: date
    reason: str | None
    reason_words: str | None
    reason_text: str | None
    recorded_by: str
    recorded_at: datetime
    source: str = Field(
        description="recorded (by a signed-in person) or ssda903 (read from the authority's SSDA903 return)"
    )
    source_words: str

    @classmethod
    def of(cls, o: Outcome) -> OutcomeOut:
        """The API's view of an outcome."""
        words = {**END_REASONS, **NOT_STARTED_REASONS}
        return cls(
            id=o.outcome_id,
            decision_id=o.decision_id,
            kind=o.kind.value,
            on=o.on,
            reason=o.reason,
            reason_words=words.get(o.reason) if o.reason else None,
            reason_text=o.reason_text,
            recorded_by=o.recorded_by,
            recorded_at=o.recorded_at,
            source=o.source,
            source_words=o.source_words,
        )


class PlacementOut(BaseModel):
    """Where the placement a decision chose stands (``state`` None when it chose no household), and every
    outcome recorded on it, oldest first (the latest of each kind stands)."""

    decision_id: int
    state: Literal["awaiting start", "started", "ended", "not started"] | None
    started_on: date | None
    ended_on: date | None
    not_started_on: date | None
    reason: str | None
    outcomes: list[OutcomeOut]


def decision_in_remit(conn: Connection, caller: Caller, decision_id: int) -> tuple[Decision, str]:
    """The decision and its child, if the child is in the caller's remit (the child is touched); 404 otherwise."""
    decision = decision_by_id(conn, decision_id)
    found = (
        None if decision is None else queries.referral_child(conn, scope=caller.scope, referral_id=decision.referral_id)
    )
    if decision is None or found is None:
        raise HTTPException(status_code=404, detail=NO_DECISION)
    caller.touch([found[0]])
    return decision, found[0]


@router.post(
    "/v1/decisions/{decision_id}/outcomes",
    status_code=201,
    response_model=OutcomeOut,
    responses={**NOT_FOUND, **BAD_BODY},
)
def record(request: Request, decision_id: DecisionId, body: OutcomeIn, caller: Decider) -> OutcomeOut:
    """Record what happened to the placement a decision chose, for a child in the caller's remit: it started, it
    ended (with the SSDA903 reason), or it did not start (and why).  A correction is a new record of the same
    kind.  422 lists every problem (a start before the decision or in the future, an end without a start or
    before it, an end without a REC reason, "did not start" after a start or without a reason, ...)."""
    with request.app.state.engine.begin() as conn:
        decision_in_remit(conn, caller, decision_id)
        try:
            outcome = record_outcome(
                conn, decision_id, body.kind, body.on, body.reason, body.reason_text, caller.principal.actor
            )
        except OutcomeError as exc:
            raise RequestValidationError(
                [
                    {"type": "value_error", "loc": ("body", p.field), "msg": p.message, "input": None}
                    for p in exc.problems
                ]
            ) from None
        caller.note.detail = f"placement {outcome.kind.value} on decision {decision_id}"
        caller.audit_now(request.app.state.audit, 201)  # recorded before the outcome is committed
    request.app.state.pools.referrals_changed()  # a placement that did not start reopens its referral
    return OutcomeOut.of(outcome)


@router.get("/v1/decisions/{decision_id}/outcomes", response_model=PlacementOut, responses=NOT_FOUND)
@heavy
def list_outcomes(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    decision_id: DecisionId,
    caller: Decider,
) -> PlacementOut:
    """Where the placement a decision chose stands, and every outcome recorded on it, for a child in the caller's
    remit."""
    decision, _ = decision_in_remit(conn, caller, decision_id)
    found = outcomes_for(conn, [decision_id])
    state = placement_state(decision, found)
    return PlacementOut(
        decision_id=decision_id,
        state=state.state if state else None,
        started_on=state.started_on if state else None,
        ended_on=state.ended_on if state else None,
        not_started_on=state.not_started_on if state else None,
        reason=state.reason if state else None,
        outcomes=[OutcomeOut.of(o) for o in found],
    )
