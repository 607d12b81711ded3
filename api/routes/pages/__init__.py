"""Web pages in the GOV.UK Design System (``api/templates``), one module per job: signing in, home, waiting
children, a child and their matches, a referral (made, changed, closed), a household, step-down (the cohort and
one child), the "show as on" date form, allocation, sufficiency, monitoring, model cards, the audit trail and administration.  ``router`` gathers them all under ``/pages``."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.pages import (
    admin,
    allocation,
    audit,
    children,
    dates,
    decisions,
    home,
    households,
    imports,
    models,
    monitoring,
    outcomes,
    plans,
    referrals,
    sending,
    sign_in,
    step_down,
    sufficiency,
    waiting,
)
from api.routes.pages.sign_in import DEFAULT_NEXT, safe_next, sign_in_page, signed_in

router = APIRouter()
for _module in (
    sign_in,
    home,
    waiting,
    children,
    decisions,
    referrals,
    households,
    step_down,
    dates,
    allocation,
    sufficiency,
    monitoring,
    models,
    audit,
    admin,
    imports,
    outcomes,
    plans,
    sending,
):
    router.include_router(_module.router)

__all__ = ["DEFAULT_NEXT", "router", "safe_next", "sign_in_page", "signed_in"]
