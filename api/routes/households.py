"""Carer households (read only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Connection

from api.auth import Caller
from api.deps import ConnectionDep, HouseholdReader
from api.schemas import NO_HOUSEHOLD, NOT_FOUND, HouseholdId, HouseholdPublic, Page
from matching.domain import CarerHousehold
from matching.store import queries

router = APIRouter(prefix="/v1/households", tags=["households"])


def _public(conn: Connection, caller: Caller, households: list[CarerHousehold]) -> list[HouseholdPublic]:
    """The households as the caller may see them: connected children outside their remit are not named."""
    named = {c for h in households for c in h.terms.connected_child_ids}
    visible = queries.child_ids_in_scope(conn, scope=caller.scope, child_ids=named) if named else frozenset()
    caller.touch(visible)
    today = date.today()
    return [HouseholdPublic.of(h, today, visible) for h in households]


@router.get("")
def list_households(
    conn: ConnectionDep,
    caller: HouseholdReader,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    la_code: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[HouseholdPublic]:
    """Carer households in the caller's scope, by id."""
    households, total = queries.list_households(conn, scope=caller.scope, offset=offset, limit=limit, la_code=la_code)
    return Page[HouseholdPublic](items=_public(conn, caller, households), total=total, offset=offset, limit=limit)


@router.get("/{household_id}", responses=NOT_FOUND)
def get_household(household_id: HouseholdId, conn: ConnectionDep, caller: HouseholdReader) -> HouseholdPublic:
    """One household; 404 when unknown or outside the caller's scope."""
    household = queries.get_household(conn, scope=caller.scope, household_id=household_id)
    if household is None:
        raise HTTPException(status_code=404, detail=NO_HOUSEHOLD)
    return _public(conn, caller, [household])[0]
