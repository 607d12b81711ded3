"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

import matching
from api.deps import ConnectionDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(conn: ConnectionDep) -> Health:
    """The service is up and its database answers."""
    conn.execute(text("SELECT 1"))
    return Health(status="ok", database=conn.dialect.name, version=matching.__version__)
