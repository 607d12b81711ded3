"""Liveness and readiness."""

from __future__ import annotations

import threading
import time

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

import matching
from api.schemas import Health

router = APIRouter(tags=["health"])

#: How long a successful database check stands: under load, /health answers from the event loop without waiting
#: for a worker thread or a pooled connection (measured: p99 140-170 ms with 64 clients when every probe queried).
CHECK_SECONDS = 1.0


class _DatabaseCheck:
    """The last time the store answered ``SELECT 1`` (one check at a time)."""

    def __init__(self) -> None:
        self.ok_at = float("-inf")
        self.lock = threading.Lock()

    def run(self, engine: Engine) -> None:
        with self.lock:
            if time.monotonic() - self.ok_at < CHECK_SECONDS:
                return
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            self.ok_at = time.monotonic()


@router.get("/health", responses={503: {"description": "The database does not answer"}})
async def health(request: Request) -> Health:
    """The service is up and its database answered within the last second."""
    check: _DatabaseCheck | None = getattr(request.app.state, "database_check", None)
    if check is None:
        check = request.app.state.database_check = _DatabaseCheck()
    engine: Engine = request.app.state.engine
    if time.monotonic() - check.ok_at >= CHECK_SECONDS:
        try:
            await run_in_threadpool(check.run, engine)
        except Exception:
            raise HTTPException(status_code=503, detail="the database does not answer") from None
    return Health(status="ok", database=engine.dialect.name, version=matching.__version__)
