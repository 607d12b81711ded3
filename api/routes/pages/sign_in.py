"""Signing in and out of the pages with a password (single sign-on: :mod:`api.routes.sign_on`).

Every page but the sign-in page needs a session (signing in sets its cookie: ``HttpOnly``, ``SameSite=Lax``,
``Secure`` except over plain HTTP on loopback in development); without one a page redirects to sign in. The
sign-in form posts a CSRF token bound to a cookie of its own (there is no session yet), the others the session's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import secure_request, session_cookie_name
from api.routes.pages.common import check_csrf, read_form
from api.templating import templates
from matching.accounts.oidc_login import PagesSignOn
from matching.accounts.sessions import DEFAULT_POLICY, create_session, end_session
from matching.accounts.signin import Refusal, sign_in

router = APIRouter(prefix="/pages", tags=["pages"], include_in_schema=False)

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
    form = await read_form(request)
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
    form = await read_form(request)
    cookie = session_cookie_name(request)
    session_id = request.cookies.get(cookie, "")
    check_csrf(request, form)
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
