"""Children looked after (read only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from api.deps import ChildReader, ConnectionDep
from api.limits import as_at
from api.schemas import NO_CHILD, NOT_FOUND, ChildId, ChildPublic, Page
from matching.store import queries

router = APIRouter(prefix="/v1/children", tags=["children"])


@router.get("")
def list_children(
    request: Request,
    conn: ConnectionDep,
    caller: ChildReader,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    la_code: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ChildPublic]:
    """Children in the caller's scope, by id."""
    children, total = queries.list_children(conn, scope=caller.scope, offset=offset, limit=limit, la_code=la_code)
    caller.touch(c.child_id for c in children)
    when = as_at(request, conn)
    return Page[ChildPublic](items=[ChildPublic.of(c, when) for c in children], total=total, offset=offset, limit=limit)


@router.get("/{child_id}", responses=NOT_FOUND)
def get_child(request: Request, child_id: ChildId, conn: ConnectionDep, caller: ChildReader) -> ChildPublic:
    """One child; 404 when unknown or outside the caller's scope."""
    child = queries.get_child(conn, scope=caller.scope, child_id=child_id)
    if child is None:
        raise HTTPException(status_code=404, detail=NO_CHILD)
    return ChildPublic.of(child, as_at(request, conn))
