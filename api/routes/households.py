"""Carer households (read only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import ConnectionDep, ScopeDep
from api.schemas import NOT_FOUND, HouseholdPublic, Page
from matching.store import queries

router = APIRouter(prefix="/v1/households", tags=["households"])


@router.get("")
def list_households(
    conn: ConnectionDep,
    scope: ScopeDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    la_code: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[HouseholdPublic]:
    """Carer households in the caller's scope, by id."""
    households, total = queries.list_households(conn, scope=scope, offset=offset, limit=limit, la_code=la_code)
    today = date.today()
    return Page[HouseholdPublic](
        items=[HouseholdPublic.of(h, today) for h in households], total=total, offset=offset, limit=limit
    )


@router.get("/{household_id}", responses=NOT_FOUND)
def get_household(household_id: str, conn: ConnectionDep, scope: ScopeDep) -> HouseholdPublic:
    """One household; 404 when unknown or outside the caller's scope."""
    household = queries.get_household(conn, scope=scope, household_id=household_id)
    if household is None:
        raise HTTPException(status_code=404, detail=f"no household with id {household_id!r}")
    return HouseholdPublic.of(household, date.today())
