"""Dependencies shared by the routes: the store connection, and the caller with the permission each route needs.

Routes take a :class:`~api.auth.Caller` (or only its scope) through one of the types below, never build a
scope themselves: every answer is limited to the signed-in caller's remit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from api.auth import Access, Caller
from matching.access import Permission
from matching.domain import Scope


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """A read connection to the store for the duration of the request.

    Async so that taking a pooled connection does not cost a thread-pool hop; the (sync) route
    then uses it in its worker thread.
    """
    conn = request.app.state.engine.connect()
    try:
        yield conn
    finally:
        conn.close()


ConnectionDep = Annotated[Connection, Depends(get_connection)]

# One dependency per permission (FastAPI resolves each once per request).
READ_CHILDREN = Access(Permission.READ_CHILDREN)
MATCH = Access(Permission.MATCH)
STEP_DOWN = Access(Permission.STEP_DOWN)
READ_HOUSEHOLDS = Access(Permission.READ_HOUSEHOLDS, audit=False)  # audited when the answer names children
ALLOCATE = Access(Permission.ALLOCATE)
SUFFICIENCY = Access(Permission.SUFFICIENCY)
READ_AUDIT = Access(Permission.READ_AUDIT)
EXPORT = Access(Permission.EXPORT_SUBJECT_ACCESS)
MATCH_PAGE = Access(Permission.MATCH, page=True)
STEP_DOWN_PAGE = Access(Permission.STEP_DOWN, page=True)

ChildReader = Annotated[Caller, Depends(READ_CHILDREN)]
Matcher = Annotated[Caller, Depends(MATCH)]
HouseholdReader = Annotated[Caller, Depends(READ_HOUSEHOLDS)]
Allocator = Annotated[Caller, Depends(ALLOCATE)]
SufficiencyPlanner = Annotated[Caller, Depends(SUFFICIENCY)]
Auditor = Annotated[Caller, Depends(READ_AUDIT)]
Exporter = Annotated[Caller, Depends(EXPORT)]
MatchPage = Annotated[Caller, Depends(MATCH_PAGE)]
StepDownCaller = Annotated[Caller, Depends(STEP_DOWN)]


async def _step_down_scope(caller: StepDownCaller) -> Scope:
    return caller.scope


async def _step_down_page_scope(caller: Annotated[Caller, Depends(STEP_DOWN_PAGE)]) -> Scope:
    return caller.scope


#: The scope of a caller who may assess step-down (the API, and the page).
StepDownScope = Annotated[Scope, Depends(_step_down_scope)]
StepDownPageScope = Annotated[Scope, Depends(_step_down_page_scope)]
