"""Web pages: signing in and out, the home page, the waiting children, and a child's ranked matches rendered from
the same explanations as the API.

Every page but the sign-in page needs a session (signing in, with a password here or by single sign-on in
:mod:`api.routes.sign_on`, sets its cookie: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` except over plain HTTP on
loopback in development); without one a page redirects to sign in.
Every form posts a CSRF token: the sign-in form one bound to a cookie of its own (there is no session yet),
the others the session's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from api.auth import Access, Caller, secure_request, session_cookie_name, touch
from api.deps import MatchPage
from api.limits import on_or_as_at
from api.offload import heavy
from api.pools import PoolCache
from api.schemas import NO_CHILD, ChildId, IsoDate
from api.templating import page_context, templates
from matching.access import Permission
from matching.accounts.oidc_login import PagesSignOn
from matching.accounts.sessions import DEFAULT_POLICY, create_session, end_session, verify_csrf
from matching.accounts.signin import Refusal, sign_in
from matching.eligibility.rules import rule_label
from matching.fit_config import FACTORS
from matching.ranking import service

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)
SIGNED_IN = Access(None, page=True, audit=False)
MAX_FORM_BYTES = 8192
DEFAULT_NEXT = "/pages/home"
#: The sign-in form's own cookie: a random value the form's CSRF token is bound to.
SIGN_IN_COOKIE = "pm_sign_in"
SECURE_SIGN_IN_COOKIE = "__Host-pm_sign_in"


def safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in (anything else: the home page)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or any(c < " " for c in value):
        return DEFAULT_NEXT
    return value[:2000]


def _form_token(request: Request, nonce: str) -> str:
    secret = request.app.state.settings.signing_secret.encode("utf-8")
    return hmac.new(secret, b"sign-in form v1:" + nonce.encode("utf-8"), hashlib.sha256).hexdigest()


def _sign_in_cookie(request: Request) -> str:
    return SECURE_SIGN_IN_COOKIE if secure_request(request, request.app.state.settings) else SIGN_IN_COOKIE


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form (at most :data:`MAX_FORM_BYTES`); the first value of each field."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


def sign_in_page(request: Request, next_path: str, message: str | None = None, status: int = 200) -> Response:
    """The sign-in page (the password form and the single sign-on button, as enabled), with ``message``."""
    nonce = secrets.token_urlsafe(32)
    password = "password" in request.app.state.settings.methods
    sign_on: PagesSignOn | None = request.app.state.auth.pages_sign_on
    response = templates.TemplateResponse(
        request,
        "sign_in.html",
        {
            "who": None,
            "message": message,
            "form_token": _form_token(request, nonce),
            "next": next_path,
            "password": password,
            "sso": sign_on.provider_name if sign_on is not None else None,
            "sso_href": "/pages/sign-in/oidc?" + urlencode({"next": next_path}),
        },
        status_code=status,
    )
    secure = secure_request(request, request.app.state.settings)
    response.set_cookie(
        _sign_in_cookie(request), nonce, max_age=3600, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """The sign-in page: the form (username and password) and the single sign-on button, as enabled."""
    return sign_in_page(request, safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request) -> Response:
    """Check the form's CSRF token, then the username and password (throttled); on success, a session."""
    form = await _form(request)
    next_path = safe_next(form.get("next"))
    if "password" not in request.app.state.settings.methods:
        raise HTTPException(status_code=404, detail="signing in with a password is not enabled")
    nonce = request.cookies.get(_sign_in_cookie(request), "")
    submitted = form.get("csrf_token", "")
    if not nonce or not hmac.compare_digest(_form_token(request, nonce), submitted):
        return sign_in_page(request, next_path, "The sign-in form had expired. Please try again.", 400)
    username, password = form.get("username", "")[:200], form.get("password", "")[:1024]
    address = request.client.host if request.client else "unknown"
    engine = request.app.state.engine

    def attempt() -> tuple[str, str] | Refusal:
        with engine.begin() as conn:
            found = sign_in(conn, username, password, address)
            if isinstance(found, Refusal):
                return found
            new = create_session(conn, found)
            return new.session_id, new.csrf_token

    outcome = await run_in_threadpool(attempt)  # argon2 takes tens of milliseconds: off the event loop
    if isinstance(outcome, Refusal):
        status = 429 if outcome is Refusal.THROTTLED else 401
        return sign_in_page(request, next_path, outcome.message, status)
    return signed_in(request, next_path, outcome[0])


def signed_in(request: Request, next_path: str, session_id: str) -> Response:
    """The answer to a successful sign-in (by password or single sign-on): the session's cookie (``HttpOnly``,
    ``SameSite=Lax``, ``Secure`` but over plain HTTP on loopback in development) and a redirect to ``next_path``."""
    response = RedirectResponse(safe_next(next_path), status_code=303)
    secure = secure_request(request, request.app.state.settings)
    response.set_cookie(
        session_cookie_name(request),
        session_id,
        max_age=DEFAULT_POLICY.cookie_max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(_sign_in_cookie(request), path="/", secure=secure, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request) -> Response:
    """End the session (the form carries its CSRF token) and go back to the sign-in page."""
    form = await _form(request)
    cookie = session_cookie_name(request)
    session_id = request.cookies.get(cookie, "")
    if not session_id or not verify_csrf(session_id, form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="sign out from the page's own form")
    address = request.client.host if request.client else "unknown"
    engine = request.app.state.engine

    def end() -> None:
        with engine.begin() as conn:
            end_session(conn, session_id, address=address)

    await run_in_threadpool(end)
    response = RedirectResponse("/pages/sign-in", status_code=303)
    secure = secure_request(request, request.app.state.settings)
    response.delete_cookie(cookie, path="/", secure=secure, httponly=True, samesite="lax")
    return response


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, caller: Annotated[Caller, Depends(SIGNED_IN)]) -> HTMLResponse:
    """Who is signed in, their remit, and the pages their role may use."""
    links = []
    if caller.principal.may(Permission.MATCH):
        links.append({"href": "/pages/waiting", "label": "Children waiting for a placement"})
    if caller.principal.may(Permission.STEP_DOWN):
        links.append({"href": "/pages/step-down", "label": "Step-down readiness of children in children's homes"})
    links.append({"href": "/docs", "label": "The API (needs a bearer token)"})
    return templates.TemplateResponse(request, "home.html", {**page_context(request), "links": links})


@router.get("/waiting", response_class=HTMLResponse)
@heavy
def waiting(
    request: Request, conn: Connection, caller: MatchPage, on: Annotated[IsoDate | None, Query()] = None
) -> HTMLResponse:
    """Open referrals in scope, oldest first, each linking to its matches."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    waiting_list = service.waiting_requests(conn, scope=caller.scope, on=when)
    caller.touch(r.child.child_id for r in waiting_list)
    rows = [
        {
            "child_id": r.child.child_id,
            "referral_id": r.referral.referral_id,
            "referral_date": r.referral.referral_date,
            "urgency": r.referral.urgency,
            "placement_type": r.referral.placement_type,
            "age": r.age,
            "needs": sorted(r.referral.needs.severities.items(), key=lambda kv: (-kv[1], kv[0])),
        }
        for r in waiting_list
    ]
    return templates.TemplateResponse(
        request, "waiting.html", {**page_context(request), "rows": rows, "on": when.isoformat()}
    )


@router.get("/children/{child_id}/matches", response_class=HTMLResponse)
@heavy
def child_matches_page(
    request: Request,
    child_id: ChildId,
    conn: Connection,
    caller: MatchPage,
    top: Annotated[int, Query(ge=1, le=service.MAX_TOP)] = 10,
    on: Annotated[IsoDate | None, Query()] = None,
) -> HTMLResponse:
    """A child's ranked matches as a page: a stacked bar of factor contributions per candidate."""
    when = on_or_as_at(request, conn, on, ("query", "on"))
    try:
        req = service.request_for_child(conn, scope=caller.scope, child_id=child_id, on=when)
    except service.NotFoundError as exc:
        raise HTTPException(status_code=404, detail=NO_CHILD) from exc
    touch(request, (c.child_id for c in req.group))
    cache: PoolCache = request.app.state.pools
    result = service.rank_households(pool=cache.get(conn, caller.scope), request=req, top=top)
    excluded = sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return templates.TemplateResponse(
        request,
        "matches.html",
        {
            **page_context(request),
            "result": result,
            "excluded": excluded,
            "factor_names": FACTORS,
            "provider": cache.taxonomy.provider_label,
            "rule": rule_label,
        },
    )
