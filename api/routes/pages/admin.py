"""Administration pages (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)
