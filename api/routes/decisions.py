"""Decisions on referrals by a named officer: recorded with the ranking recomputed at that moment as an immutable
snapshot (what was shown), and read back with it.  The service records a person's decision; it never places a
child by itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import Decider
from api.jobs import JobRoute
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import BAD_BODY, NOT_FOUND, ErrorOut
from matching.decisions import (
    Decision,
    DecisionDraft,
    DecisionError,
    RecommendationSnapshot,
    decisions_for,
    load_snapshot,
)
from matching.decisions.decision import MAX_NAME, MAX_TEXT, NO_HOUSEHOLD_REASONS, OVERRIDE_REASONS
from matching.decisions.service import ReferralClosedError, ReferralNotFoundError, decide
from matching.store import queries

router = APIRouter(tags=["decisions"], route_class=JobRoute)  # 405 names both methods of a path
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
ReferralId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
NO_REFERRAL = "no referral of that id for a child in your remit"


class DecisionIn(BaseModel):
    """A decision made by a named officer on a referral."""

    model_config = ConfigDict(extra="forbid", strict=True)

    outcome: Literal["household_chosen", "no_household"]
    named_officer: str = Field(max_length=MAX_NAME, description="Name and job title of the officer who decided.")
    household_id: Code | None = None
    reason_codes: list[Code] = Field(
        default_factory=list,
        max_length=12,
        description="Required when the household is not the best-ranked, not ranked, or warned about, and for "
        f"no household. Choosing: {', '.join(OVERRIDE_REASONS)}. No household: {', '.join(NO_HOUSEHOLD_REASONS)}.",
    )
    reason_text: str | None = Field(default=None, max_length=MAX_TEXT)
    accepted_warnings: list[Code] = Field(default_factory=list, max_length=20)


class DecisionOut(BaseModel):
    """A recorded decision, and the hash of the snapshot of what was shown when it was made."""

    id: int
    referral_id: str
    snapshot_sha256: str
    outcome: str
    household_id: str | None
    best_ranked_household_id: str | None
    departs_from_ranking: bool
    named_officer: str
    reason_codes: list[str]
    reason_text: str | None
    accepted_warnings: list[str]
    recorded_by: str
    decided_at: datetime

    @classmethod
    def of(cls, d: Decision) -> DecisionOut:
        """The API's view of a decision."""
        return cls(
            id=d.decision_id,
            referral_id=d.referral_id,
            snapshot_sha256=d.snapshot_sha256,
            outcome=d.outcome.value,
            household_id=d.household_id,
            best_ranked_household_id=d.best_ranked_household_id,
            departs_from_ranking=d.departs_from_ranking,
            named_officer=d.named_officer,
            reason_codes=list(d.reason_codes),
            reason_text=d.reason_text,
            accepted_warnings=list(d.accepted_warnings),
            recorded_by=d.recorded_by,
            decided_at=d.decided_at,
        )


def _in_scope(conn: Connection, caller: Caller, referral_id: str) -> str:
    found = queries.referral_child(conn, scope=caller.scope, referral_id=referral_id)
    if found is None:
        raise HTTPException(status_code=404, detail=NO_REFERRAL)
    caller.touch([found[0]])
    return found[0]


@router.post(
    "/v1/referrals/{referral_id}/decisions",
    status_code=201,
    response_model=DecisionOut,
    responses={**NOT_FOUND, **BAD_BODY, 409: {"model": ErrorOut, "description": "The referral is not open"}},
)
def record(request: Request, referral_id: ReferralId, body: DecisionIn, caller: Decider) -> DecisionOut:
    """Record the decision a named officer made on an open referral of a child in the caller's remit.  The
    ranking is recomputed now and stored, immutable, as the snapshot the decision was made on.  422 lists every
    problem (a missing officer, a departure from the ranking or an accepted warning without reasons, ...)."""
    draft = DecisionDraft(
        body.outcome,
        body.named_officer,
        body.household_id,
        tuple(body.reason_codes),
        body.reason_text,
        tuple(body.accepted_warnings),
    )
    with request.app.state.engine.begin() as conn:
        try:
            decision, _ = record_now(request, conn, caller, referral_id, draft, 201)
        except DecisionError as exc:
            raise RequestValidationError(
                [
                    {"type": "value_error", "loc": ("body", p.field), "msg": p.message, "input": None}
                    for p in exc.problems
                ]
            ) from None
    request.app.state.pools.referrals_changed()  # a household chosen matches the referral
    return DecisionOut.of(decision)


def record_now(
    request: Request, conn: Connection, caller: Caller, referral_id: str, draft: DecisionDraft, status: int
) -> tuple[Decision, RecommendationSnapshot]:
    """Record ``draft`` on a referral in the caller's remit with the ranking recomputed now as its snapshot (on
    the store's as-at date), audited with ``status`` before the caller commits ``conn``: the API's and the
    pages' one way to record a decision.  404 (not in the remit), 409 (not open); :class:`DecisionError` with
    every problem."""
    cache: PoolCache = request.app.state.pools
    _in_scope(conn, caller, referral_id)
    on = on_or_as_at(request, conn, None, ("query", "on"))
    try:
        decision, snapshot = decide(
            conn,
            draft,
            scope=caller.scope,
            referral_id=referral_id,
            on=on,
            pool=cache.get(conn, caller.scope),
            cfg=cache.cfg,
            actor=caller.principal.actor,
        )
    except ReferralNotFoundError:
        raise HTTPException(status_code=404, detail=NO_REFERRAL) from None
    except ReferralClosedError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    caller.touch(_children(snapshot.payload))
    caller.note.detail = f"decision on referral {referral_id}"
    caller.audit_now(request.app.state.audit, status)  # recorded before the decision is committed
    return decision, snapshot


def _children(payload: Any) -> list[str]:
    ranking = payload.get("ranking", {})
    return [ranking.get("child_id", "")]


@router.get("/v1/referrals/{referral_id}/decisions", response_model=list[DecisionOut], responses=NOT_FOUND)
@heavy
def list_decisions(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    referral_id: ReferralId,
    caller: Decider,
) -> list[DecisionOut]:
    """Every decision recorded on a referral of a child in the caller's remit, oldest first (the last stands)."""
    _in_scope(conn, caller, referral_id)
    return [DecisionOut.of(d) for d in decisions_for(conn, [referral_id])]


@router.get("/v1/decisions/snapshots/{sha256}", responses=NOT_FOUND)
@heavy
def snapshot(
    request: Request,  # noqa: ARG001 - @heavy needs it
    conn: Connection,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    caller: Decider,
) -> dict[str, Any]:
    """The snapshot a decision was made on, exactly as stored (its hash checked), for a referral in the caller's
    remit; 404 otherwise."""
    found = load_snapshot(conn, sha256)
    if found is None:
        raise HTTPException(status_code=404, detail="no snapshot of that hash for a referral in your remit")
    if queries.referral_child(conn, scope=caller.scope, referral_id=found.referral_id) is None:
        raise HTTPException(status_code=404, detail="no snapshot of that hash for a referral in your remit")
    caller.touch(_children(found.payload))
    return {"sha256": found.sha256, "verified": True, "payload": dict(found.payload)}
