"""The pages' single sign-on with OpenID Connect (authorization-code flow with PKCE, state and nonce).

``GET /pages/sign-in/oidc?next=...`` draws a flow (:mod:`matching.accounts.oidc_login`), keeps it in a sealed
cookie for ten minutes (``HttpOnly``, ``SameSite=Lax`` so that it comes back with the provider's redirect,
``Secure`` and ``__Host-`` prefixed but over plain HTTP on loopback in development) and sends the browser to the
provider.  ``GET /pages/sign-in/oidc/callback`` takes the provider's answer: the state must be the cookie's and
comes back once; the code is exchanged for the ID token, which is checked (signature, issuer, audience, expiry,
nonce) and mapped to a role and remit by ``sign_in_oidc``; then the same session as a password sign-in.  The
cookie is deleted whatever happens.  Every refusal is a readable page and an entry in the audit trail.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import secure_request
from api.routes.pages import DEFAULT_NEXT, safe_next, sign_in_page, signed_in
from matching.accounts.oidc import OidcError, audit_refused_sign_in, sign_in_oidc
from matching.accounts.oidc_login import CALLBACK_PATH, PagesSignOn, ProviderUnavailableError, error_code
from matching.accounts.sessions import create_session
from matching.accounts.signin import Refusal

router = APIRouter(prefix="/pages/sign-in/oidc", tags=["pages"], include_in_schema=False)
log = logging.getLogger(__name__)
FLOW_COOKIE = "pm_oidc"
SECURE_FLOW_COOKIE = "__Host-pm_oidc"
MAX_NEXT_BYTES = 1000
EXPIRED = "The sign-in had expired or was started in another window. Please try again."


def _sign_on(request: Request) -> PagesSignOn:
    sign_on: PagesSignOn | None = request.app.state.auth.pages_sign_on
    if sign_on is None:
        raise HTTPException(status_code=404, detail="single sign-on at the pages is not enabled")
    return sign_on


def _flow_cookie(request: Request) -> str:
    return SECURE_FLOW_COOKIE if secure_request(request, request.app.state.settings) else FLOW_COOKIE


def _redirect_uri(request: Request, sign_on: PagesSignOn) -> str:
    """The callback's address as registered with the provider: configured, or this service's own."""
    configured = sign_on.validator.config.redirect_uri
    return configured or str(request.base_url).rstrip("/") + CALLBACK_PATH


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _forget_flow(request: Request, response: Response) -> Response:
    secure = secure_request(request, request.app.state.settings)
    response.delete_cookie(_flow_cookie(request), path="/", secure=secure, httponly=True, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("", response_class=HTMLResponse)
def begin(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """Start signing in with the provider: the flow's cookie, and a redirect to its authorization endpoint."""
    sign_on = _sign_on(request)
    next_path = safe_next(next)
    if len(next_path.encode("utf-8")) > MAX_NEXT_BYTES:  # the flow's cookie must stay under browsers' 4 kB
        next_path = DEFAULT_NEXT
    flow = sign_on.begin(next_path)
    try:
        url = sign_on.authorization_url(flow, _redirect_uri(request, sign_on))
    except OidcError as exc:
        log.warning("single sign-on: cannot start: %s", exc)
        message = f"{sign_on.provider_name} cannot be reached just now. Try again in a few minutes."
        return sign_in_page(request, next_path, message, 502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        _flow_cookie(request),
        sign_on.seal(flow),
        max_age=sign_on.flow_seconds,
        path="/",
        secure=secure_request(request, request.app.state.settings),
        httponly=True,
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/callback", response_class=HTMLResponse)
def callback(request: Request) -> Response:
    """The provider's answer: check the state, exchange the code, check the ID token, then a session."""
    sign_on = _sign_on(request)
    engine = request.app.state.engine
    address = _address(request)
    query = request.query_params
    flow = sign_on.unseal(request.cookies.get(_flow_cookie(request)))
    next_path = flow.next_path if flow is not None else DEFAULT_NEXT

    def refuse(why: str, message: str, status: int) -> Response:
        with engine.begin() as conn:
            audit_refused_sign_in(conn, why, address)
        return _forget_flow(request, sign_in_page(request, next_path, message, status))

    provider = sign_on.provider_name
    if "error" in query:
        code = error_code(query.get("error"))
        if code == "access_denied":
            message = f"Signing in with {provider} was cancelled or refused. Try again, or ask your administrator."
            return refuse(f"the provider answered error={code}", message, 403)
        message = f"{provider} could not sign you in just now. Try again, or ask your administrator."
        return refuse(f"the provider answered error={code}", message, 400)
    if flow is None:
        return refuse("no sign-in in progress (flow cookie missing, changed or expired)", EXPIRED, 400)
    state = query.get("state") or ""
    if not hmac.compare_digest(state.encode("utf-8", "replace"), flow.state.encode("ascii")):
        return refuse("the state is not this sign-in's", EXPIRED, 400)
    if not sign_on.claim(flow):
        return refuse("the state was used before (replayed)", EXPIRED, 400)
    code = query.get("code") or ""
    if not code or len(code) > 4096:
        return refuse("no authorization code", EXPIRED, 400)
    try:
        id_token = sign_on.redeem(code, flow, _redirect_uri(request, sign_on))
    except ProviderUnavailableError as exc:
        return refuse(f"code not redeemed: {exc}", f"{provider} cannot be reached just now. Try again later.", 502)
    except OidcError as exc:
        return refuse(f"code not redeemed: {exc}", "Single sign-on could not be completed. Please try again.", 400)

    with engine.begin() as conn:
        found = sign_in_oidc(conn, id_token, sign_on.validator, address, nonce=flow.nonce)
        session_id = None if isinstance(found, Refusal) else create_session(conn, found).session_id
    if found is Refusal.NOT_AUTHORISED:
        return _forget_flow(request, sign_in_page(request, next_path, found.message, 403))
    if session_id is None:
        message = "Single sign-on could not confirm who you are. Please try again."
        return _forget_flow(request, sign_in_page(request, next_path, message, 401))
    return _forget_flow(request, signed_in(request, safe_next(next_path), session_id))
