"""The pages' templates, and what every page shows: who is signed in, their role and remit, the navigation their
role may use, and sign-out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from api.auth import caller_of
from matching.access import Permission, Principal

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def remit_text(principal: Principal) -> str:
    """The remit in words: authorities and agencies."""
    las = ", ".join(sorted(principal.remit.la_codes)) or "none"
    agencies = ", ".join(sorted(principal.remit.agency_codes)) or "none"
    return f"authorities {las}; agencies {agencies}"


#: The service navigation: each page, the permission it needs (None: every signed-in person) and the paths it
#: covers (patterns matched at the start of the path; the item whose pattern matches most of it is current).
NAVIGATION: tuple[tuple[str, str, Permission | None, tuple[str, ...]], ...] = (
    ("Home", "/pages/home", None, ("/pages/home",)),
    (
        "Waiting children",
        "/pages/waiting",
        Permission.MATCH,
        ("/pages/waiting", "/pages/children/", "/pages/referrals/", "/pages/decisions/"),
    ),
    ("Step-down", "/pages/step-down", Permission.STEP_DOWN, ("/pages/step-down", r"/pages/children/[^/]+/step-down")),
    ("Referrals", "/pages/agency/referrals", Permission.READ_REFERRALS, ("/pages/agency/",)),
    ("Households", "/pages/households", Permission.READ_HOUSEHOLDS, ("/pages/households",)),
    ("Allocation", "/pages/allocations", Permission.ALLOCATE, ("/pages/allocations",)),
    ("Sufficiency", "/pages/sufficiency", Permission.SUFFICIENCY, ("/pages/sufficiency",)),
    ("Monitoring", "/pages/monitoring", Permission.MONITOR, ("/pages/monitoring",)),
    ("Audit trail", "/pages/audit", Permission.READ_AUDIT, ("/pages/audit",)),
    ("Users", "/pages/admin/users", Permission.MANAGE_USERS, ("/pages/admin/users",)),
    ("Imports", "/pages/admin/imports", Permission.IMPORT_DATA, ("/pages/admin/imports",)),
    ("Models", "/pages/models", None, ("/pages/models",)),
)


def navigation(principal: Principal, path: str) -> list[dict[str, Any]]:
    """The navigation items the signed-in person's role may use, the current one marked."""
    items = [
        (label, href, covers)
        for label, href, permission, covers in NAVIGATION
        if permission is None or principal.may(permission)
    ]
    reach = [max((m.end() for p in covers if (m := re.match(p, path))), default=0) for _, _, covers in items]
    best = max(reach, default=0)
    return [
        {"label": label, "href": href, "current": best > 0 and r == best}
        for (label, href, _), r in zip(items, reach, strict=True)
    ]


def page_context(request: Request) -> dict[str, Any]:
    """What the base template needs about the signed-in person (nothing when nobody is)."""
    caller = caller_of(request)
    if caller is None:
        return {"who": None}
    p = caller.principal
    return {
        "who": {
            "name": p.display_name or p.username,
            "username": p.username,
            "role": p.role.label,
            "remit": remit_text(p),
        },
        "nav": navigation(p, request.url.path),
        "csrf_token": caller.csrf_token or "",
    }
