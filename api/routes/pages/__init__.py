"""Web pages in the GOV.UK Design System (``api/templates``), one module per job: signing in, home, waiting
children, a child and their matches, a household; the step-down page lives beside its API in
:mod:`api.routes.stepdown`.  ``router`` gathers them all under ``/pages``."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.pages import children, home, households, sign_in, sufficiency, waiting
from api.routes.pages.sign_in import DEFAULT_NEXT, safe_next, sign_in_page, signed_in

router = APIRouter()
for _module in (sign_in, home, waiting, children, households, sufficiency):
    router.include_router(_module.router)

__all__ = ["DEFAULT_NEXT", "router", "safe_next", "sign_in_page", "signed_in"]
