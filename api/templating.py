"""The pages' templates, and what every page shows: who is signed in, their role and remit, and sign-out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.auth import caller_of
from matching.access import Principal

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def remit_text(principal: Principal) -> str:
    """The remit in words: authorities and agencies."""
    las = ", ".join(sorted(principal.remit.la_codes)) or "none"
    agencies = ", ".join(sorted(principal.remit.agency_codes)) or "none"
    return f"authorities {las}; agencies {agencies}"


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
        "csrf_token": caller.csrf_token or "",
    }


def banner(request: Request) -> Markup:
    """The signed-in bar (name, role, remit, sign-out form) as HTML, for pages not built from ``base.html``."""
    ctx = page_context(request)
    who = ctx["who"]
    if who is None:
        return Markup("")
    return Markup(  # styled by a file: the Content-Security-Policy allows no style attribute
        '<link rel="stylesheet" href="/static/banner.css">'
        '<div class="pm-signed-in">Signed in as <strong>{name}</strong> ({username}), {role}. '
        "Remit: {remit}. "
        '<form method="post" action="/pages/sign-out">'
        '<input type="hidden" name="csrf_token" value="{csrf}">'
        '<button type="submit">Sign out</button></form></div>'
    ).format(
        name=escape(who["name"]),
        username=escape(who["username"]),
        role=escape(who["role"]),
        remit=escape(who["remit"]),
        csrf=escape(ctx["csrf_token"]),
    )


def with_banner(request: Request, html: str) -> str:
    """A whole page (from a report) with the signed-in bar just inside ``<body>``."""
    bar = str(banner(request))
    at = html.find("<body")
    if at < 0:
        return bar + html
    end = html.find(">", at)
    return html[: end + 1] + bar + html[end + 1 :]
