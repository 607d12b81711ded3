"""Dependencies shared by the routes: the store connection and the caller's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from api.settings import Settings
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


async def get_scope(request: Request) -> Scope:
    """The caller's remit.  Until authentication lands: the deployment's configured remit."""
    settings: Settings = request.app.state.settings
    las = frozenset(x.strip() for x in settings.scope_las.split(",") if x.strip()) or None
    agencies = frozenset(x.strip() for x in settings.scope_agencies.split(",") if x.strip()) or None
    return Scope(la_codes=las, agency_codes=agencies)


ConnectionDep = Annotated[Connection, Depends(get_connection)]
ScopeDep = Annotated[Scope, Depends(get_scope)]
