"""Dependencies shared by the routes: the store connection, and the caller with the permission each route needs.

Routes take a :class:`~api.auth.Caller` (or only its scope) through one of the types below, never build a
scope themselves: every answer is limited to the signed-in caller's remit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy import Connection

from api.auth import Access, Caller
from matching.access import Permission
from matching.domain import Scope


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """A read connection to the store for the duration of the request.

    It is taken in a worker thread of its own limiter (at most the pool's size wait there), so a request never
    waits for a connection on the event loop, nor holds one of the threads the routes run in while it waits; it
    is given back on the event loop, at once, without needing a thread.  (Taken on the loop, 64 clients on a
    light route locked the server: the loop waited for a connection only the loop could give back.  Taken and
    given back in the routes' own thread pool, the waiting requests held every thread, and the requests that
    held the connections could not get one to give them back.)
    """
    engine = request.app.state.engine
    conn = await anyio.to_thread.run_sync(engine.connect, limiter=_connect_limiter(request))
    try:
        yield conn
    finally:
        conn.close()


def _connect_limiter(request: Request) -> anyio.CapacityLimiter:
    """The app's limiter for threads waiting for a pooled connection (one per event loop), sized to the pool."""
    loop = asyncio.get_running_loop()
    held: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = getattr(
        request.app.state, "connect_limiter", None
    )
    if held is None or held[0] is not loop:
        pool = request.app.state.engine.pool
        size = int(getattr(pool, "size", lambda: 5)()) + max(0, int(getattr(pool, "_max_overflow", 10)))
        held = (loop, anyio.CapacityLimiter(max(1, size)))
        request.app.state.connect_limiter = held
    return held[1]


ConnectionDep = Annotated[Connection, Depends(get_connection)]

# One dependency per permission (FastAPI resolves each once per request).
READ_CHILDREN = Access(Permission.READ_CHILDREN)
MATCH = Access(Permission.MATCH)
STEP_DOWN = Access(Permission.STEP_DOWN)
READ_HOUSEHOLDS = Access(Permission.READ_HOUSEHOLDS, audit=False)  # audited when the answer names children
ALLOCATE = Access(Permission.ALLOCATE)
SUFFICIENCY = Access(Permission.SUFFICIENCY)
READ_AUDIT = Access(Permission.READ_AUDIT)
DECIDE = Access(Permission.DECIDE)
MONITOR = Access(Permission.MONITOR)
EXPORT = Access(Permission.EXPORT_SUBJECT_ACCESS)
MATCH_PAGE = Access(Permission.MATCH, page=True)
STEP_DOWN_PAGE = Access(Permission.STEP_DOWN, page=True)

ChildReader = Annotated[Caller, Depends(READ_CHILDREN)]
Matcher = Annotated[Caller, Depends(MATCH)]
HouseholdReader = Annotated[Caller, Depends(READ_HOUSEHOLDS)]
Allocator = Annotated[Caller, Depends(ALLOCATE)]
SufficiencyPlanner = Annotated[Caller, Depends(SUFFICIENCY)]
Auditor = Annotated[Caller, Depends(READ_AUDIT)]
Decider = Annotated[Caller, Depends(DECIDE)]
Monitor = Annotated[Caller, Depends(MONITOR)]
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
