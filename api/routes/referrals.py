"""The waiting list: open referrals in the caller's remit, most urgent first, then longest waiting."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.deps import Matcher
from api.jobs import JobRoute
from api.limits import on_or_as_at
from api.offload import heavy
from api.schemas import IsoDate, Page
from matching.ranking.waiting import WaitingFilter, waiting_list

router = APIRouter(prefix="/v1/referrals", tags=["referrals"], route_class=JobRoute)  # 405 names POST too

Code = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]


class WaitingOut(BaseModel):
    """One open referral on the waiting list."""

    child_id: str
    referral_id: str
    la_code: str
    referral_date: str
    days_waiting: int
    urgency: Literal["today", "within_5_days", "over_5_days"]
    urgency_label: str = Field(description="The urgency in plain words.")
    placement_type: str
    age: int = Field(description="Age in whole years on the date asked for.")
    needs: dict[str, int] = Field(description="Need code: severity 1-3, most severe first.")
    needs_assessed: bool = Field(description="False when no assessment of needs is on record (needs not known).")
    siblings: list[str] = Field(description="Siblings referred to be placed with the child.")


@router.get("")
@heavy
def list_referrals(
    request: Request,
    conn: Connection,
    caller: Matcher,
    status: Annotated[Literal["open"], Query(description="Only open referrals are listed.")] = "open",  # noqa: ARG001
    la_code: Code = None,
    urgency: Literal["today", "within_5_days", "over_5_days"] | None = None,
    placement_type: Code = None,
    age_min: Annotated[int | None, Query(ge=0, le=17)] = None,
    age_max: Annotated[int | None, Query(ge=0, le=17)] = None,
    need: Code = None,
    child_id: Code = None,
    min_days_waiting: Annotated[
        int | None, Query(ge=0, le=36_500, description="Referred at least this long ago.")
    ] = None,
    on: Annotated[IsoDate | None, Query(description="Date YYYY-MM-DD (default: the store's as-at date).")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[WaitingOut]:
    """Open referrals in the caller's remit that pass the filters: most urgent first, then the oldest referral,
    then the child's id."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    where = WaitingFilter(la_code, urgency, placement_type, age_min, age_max, need, child_id, min_days_waiting)
    entries = waiting_list(conn, scope=caller.scope, on=when, where=where)
    shown = entries[offset : offset + limit]
    caller.touch(e.request.child.child_id for e in shown)
    return Page[WaitingOut](
        items=[WaitingOut(**e.as_dict()) for e in shown], total=len(entries), offset=offset, limit=limit
    )
