"""Who is asking and whether they may: the one dependency every route goes through, and the audit of requests.

Every route but ``/health`` and the sign-in page declares ``Access(<permission>)`` (through the types in
:mod:`api.deps`).  The dependency

1. notes the request for the audit trail (route, the child named in the path or the ``child_id`` query, the
   purpose given in ``X-Purpose``);
2. finds the caller: a bearer token (``Authorization: Bearer pm_...``, or a single sign-on access token when
   configured), else the pages' session cookie (pages accept only the cookie);
3. answers 401 with ``WWW-Authenticate: Bearer`` when nobody is signed in (a page redirects to the sign-in
   page), 403 when the role lacks the permission, 403 when a request signed in by cookie changes something
   without the session's CSRF token;
4. gives the route a :class:`Caller`: the principal and ``principal.scope()``, the only scope the API uses.

:class:`AuditMiddleware` writes the note once the status is known (queued to the app's ``AuditWriter``) and
answers 503 instead of the route's answer when the audit trail cannot take it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from api.settings import Settings
from matching.access import AccessDeniedError, Actor, Permission, Principal, require
from matching.accounts.oidc import OidcValidator, load_oidc_config, sign_in_oidc
from matching.accounts.oidc_login import PagesSignOn
from matching.accounts.sessions import DEFAULT_POLICY, ActiveSession, resolve_session, verify_csrf
from matching.accounts.tokens import PREFIX, authenticate_token, hash_token
from matching.audit import AuditEntry, AuditUnavailableError, AuditWriter
from matching.domain import Scope
from matching.store.engine import pool_of_its_own

#: Who an unauthenticated request is, in the audit trail.
ANONYMOUS = Actor(None, "anonymous", None)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "testserver"})
MAX_CHILD_ID = 64

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token from `matching tokens issue USER --name WHAT` (`pm_...`), or in production a single "
    "sign-on access token when configured.",
)
SESSION_COOKIE = APIKeyCookie(
    name=DEFAULT_POLICY.cookie_name,
    auto_error=False,
    scheme_name="session",
    description=f"The pages' session cookie, set by signing in at /pages/sign-in (named "
    f"`{DEFAULT_POLICY.secure_cookie_name}` over HTTPS). A request that changes something must also send the "
    f"session's CSRF token in `{DEFAULT_POLICY.csrf_header}`.",
)


@dataclass(slots=True)
class AuditNote:
    """What the audit trail will record about this request once its status is known."""

    action: str
    actor: Actor = ANONYMOUS
    child_ids: set[str] = field(default_factory=set)
    purpose: str | None = None
    #: Written whatever happens; otherwise only when children were touched or the request was refused.
    always: bool = True
    detail: str | None = None
    done: bool = False

    def wanted(self, status: int) -> bool:
        """True if this request is to be recorded with ``status``."""
        return not self.done and (self.always or bool(self.child_ids) or status in (401, 403))

    def entry(self, status: int) -> AuditEntry:
        """The entry for the answer ``status``."""
        return AuditEntry(
            self.actor,
            self.action,
            str(status),
            child_ids=sorted(self.child_ids),
            purpose=self.purpose,
            detail=self.detail,
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in person behind a request, their scope, and the request's audit note."""

    principal: Principal
    scope: Scope
    note: AuditNote = field(repr=False)
    #: The session's CSRF token when signed in by the pages' cookie (None for a bearer token).
    csrf_token: str | None = field(default=None, repr=False)

    def touch(self, child_ids: Iterable[str]) -> None:
        """Record that the answer holds (or was built from) these children's records."""
        self.note.child_ids.update(c for c in child_ids if c and len(c) <= MAX_CHILD_ID)

    def audit_now(self, writer: AuditWriter, status: int) -> None:
        """Write the note before acting (a batch about to start): 503 when the trail cannot take it."""
        try:
            writer.submit(self.note.entry(status))
        except AuditUnavailableError:
            raise HTTPException(status_code=503, detail="the audit trail is unavailable; try again later") from None
        self.note.done = True


class SignInRequiredError(Exception):
    """A page asked for without a session: the answer is a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in")
        self.next_path = next_path


class PageForbiddenError(Exception):
    """A page the signed-in person's role may not see."""

    def __init__(self, caller: Caller, message: str) -> None:
        super().__init__(message)
        self.caller = caller


def secure_request(request: Request, settings: Settings) -> bool:
    """True when the session cookie must be ``Secure``: always in production, over HTTPS, and for any host but
    loopback (plain HTTP is allowed only on loopback in development)."""
    return settings.production or request.url.scheme == "https" or (request.url.hostname or "") not in LOOPBACK


def session_cookie_name(request: Request) -> str:
    """The session cookie's name for this request (``__Host-`` prefixed when secure)."""
    return DEFAULT_POLICY.cookie(secure_request(request, request.app.state.settings))


class Authenticator:
    """Turns credentials into principals for one app.

    A bearer token confirmed by the store is kept for ``cache_seconds`` (keyed by its SHA-256, at most
    ``max_cached`` of them): a token revoked or an account disabled elsewhere stops working within that time;
    :meth:`forget` empties the cache at once (call it after revoking in this process)."""

    def __init__(self, engine: Engine, settings: Settings, *, max_cached: int = 4096) -> None:
        # A pool of its own: a request that already holds one of the store's connections (its ConnectionDep) must
        # never wait for another one from the same pool to be signed in (64 clients deadlocked the server so).
        self.engine = pool_of_its_own(engine)
        self.cache_seconds = settings.token_cache_seconds
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()
        self.oidc: OidcValidator | None = None
        #: The pages' single sign-on: when ``oidc`` is a method and the configuration has a client id and the
        #: client secret is set (production refuses to start with a client id and no secret).
        self.pages_sign_on: PagesSignOn | None = None
        if "oidc" in settings.methods and settings.oidc_config is not None:
            self.oidc = OidcValidator(load_oidc_config(settings.oidc_config))
            secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
            if self.oidc.config.client_id is not None and secret:
                self.pages_sign_on = PagesSignOn(self.oidc, secret, settings.signing_secret)

    def _cached(self, key: str) -> Principal | None:
        if self.cache_seconds <= 0:
            return None
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._cache[key]
                return None
            return hit[1]

    def _keep(self, key: str, principal: Principal) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            self._cache[key] = (time.monotonic() + self.cache_seconds, principal)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached token (a token was revoked or an account changed in this process)."""
        with self._lock:
            self._cache.clear()

    def cached_token(self, token: str) -> Principal | None:
        """The principal of a bearer token confirmed within ``cache_seconds`` (None when not cached: ask
        :meth:`token`)."""
        if self.cache_seconds <= 0:
            return None
        return self._cached(self._key(token))

    @staticmethod
    def _key(token: str) -> str:
        """The cache key of a bearer token: ours by their stored digest, a single sign-on token by its SHA-256."""
        if token.startswith(PREFIX):
            return hash_token(token)
        return "oidc:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()

    def token(self, token: str, address: str) -> Principal | None:
        """The principal of a bearer token, or None."""
        key = self._key(token)
        if token.startswith(PREFIX):
            principal = self._cached(key)
            if principal is None:
                with self.engine.begin() as conn:
                    principal = authenticate_token(conn, token)
                if principal is not None:
                    self._keep(key, principal)
            return principal
        if self.oidc is None:
            return None
        principal = self._cached(key)
        if principal is None:
            with self.engine.begin() as conn:
                found = sign_in_oidc(conn, token, self.oidc, address)
            principal = found if isinstance(found, Principal) else None
            if principal is not None:
                self._keep(key, principal)
        return principal

    def session(self, session_id: str) -> ActiveSession | None:
        """The live session a cookie names, or None."""
        with self.engine.begin() as conn:
            return resolve_session(conn, session_id)


def _action(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _next_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class Access:
    """The dependency every route goes through: the caller, if they hold ``permission`` (see the module).

    ``permission`` None: anyone signed in (a page that shows no one's records, such as the home page).
    ``page``: a web page (session cookie only; redirects to sign in, 403 as a page).  ``audit``: record every
    request (otherwise only those that touched children, and refusals)."""

    def __init__(self, permission: Permission | None, *, page: bool = False, audit: bool = True) -> None:
        self.permission = permission
        self.page = page
        self.audit = audit

    def __repr__(self) -> str:
        wanted = self.permission.value if self.permission is not None else None
        return f"Access({wanted!r}, page={self.page}, audit={self.audit})"

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[Any, Depends(BEARER)],
        _cookie: Annotated[str | None, Depends(SESSION_COOKIE)],
        purpose: Annotated[
            str | None,
            Header(
                alias="X-Purpose",
                max_length=200,
                description="Why you are asking (recorded in the audit trail with the children touched).",
            ),
        ] = None,
    ) -> Caller:
        note = AuditNote(_action(request), purpose=(purpose or "").strip() or None, always=self.audit)
        for child_id in (request.path_params.get("child_id"), request.query_params.get("child_id")):
            if isinstance(child_id, str) and 0 < len(child_id) <= MAX_CHILD_ID:
                note.child_ids.add(child_id)  # the child the request is about, even when it is refused
        request.state.audit = note
        principal, session_id, csrf = await self._principal(request)
        if principal is None:
            if self.page:
                raise SignInRequiredError(_next_path(request))
            raise HTTPException(
                status_code=401,
                detail="sign in: send Authorization: Bearer <token> (from `matching tokens issue`); "
                "the token is missing, unknown, expired or revoked",
                headers={"WWW-Authenticate": 'Bearer realm="placement-matching"'},
            )
        note.actor = principal.actor
        caller = Caller(principal, principal.scope(), note, csrf)
        request.state.caller = caller
        unsafe = session_id is not None and not self.page and request.method not in SAFE_METHODS
        if unsafe and not verify_csrf(session_id or "", request.headers.get(DEFAULT_POLICY.csrf_header)):
            raise HTTPException(
                status_code=403, detail=f"signed in by the session cookie: send {DEFAULT_POLICY.csrf_header}"
            )
        try:
            if self.permission is not None:
                require(principal, self.permission)
        except AccessDeniedError as exc:
            if self.page:
                raise PageForbiddenError(caller, str(exc)) from None
            raise HTTPException(status_code=403, detail=str(exc)) from None
        return caller

    async def _principal(self, request: Request) -> tuple[Principal | None, str | None, str | None]:
        """The principal, the session id (signed in by cookie) and the session's CSRF token."""
        auth: Authenticator = request.app.state.auth
        if not self.page:
            header = request.headers.get("authorization")
            if header is not None:
                scheme, _, token = header.strip().partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return None, None, None
                address = request.client.host if request.client else "unknown"
                known = auth.cached_token(token.strip())
                if known is not None:
                    return known, None, None
                # The store (or the single sign-on provider's key set) is asked in a worker thread, never on the
                # event loop: a slow store or provider must not hold up every other request.
                return await run_in_threadpool(auth.token, token.strip(), address), None, None
        session_id = request.cookies.get(session_cookie_name(request))
        if not session_id:
            return None, None, None
        active = await run_in_threadpool(auth.session, session_id)
        if active is None:
            return None, None, None
        request.state.session = active
        return active.principal, session_id, active.csrf_token


def caller_of(request: Request) -> Caller | None:
    """The caller the dependency found for this request, if any."""
    caller: Caller | None = getattr(request.state, "caller", None)
    return caller


class AuditMiddleware:
    """Writes each request's audit note with its status, before the answer leaves; 503 instead when the trail
    cannot take it (the answer is then never sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        writer: AuditWriter = scope["app"].state.audit
        withheld = False

        def note() -> AuditNote | None:
            found: AuditNote | None = (scope.get("state") or {}).get("audit")
            return found

        async def send_audited(message: Message) -> None:
            nonlocal withheld
            if message["type"] == "http.response.start":
                pending = note()
                if pending is not None and pending.wanted(message["status"]):
                    pending.done = True
                    try:
                        writer.submit(pending.entry(message["status"]))
                    except AuditUnavailableError:
                        withheld = True
                        body = orjson.dumps({"detail": "the audit trail is unavailable; try again later"})
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 503,
                                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
            elif withheld:
                return
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            pending = note()
            if pending is not None and not pending.done:
                pending.done = True
                with contextlib.suppress(AuditUnavailableError):  # the error is what the client hears about
                    writer.submit(pending.entry(500))
            raise


def touch(request: Request, child_ids: Iterable[str]) -> None:
    """Record on this request's audit note that the answer holds these children's records."""
    caller = caller_of(request)
    if caller is not None:
        caller.touch(child_ids)


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route among ``routes``, through included routers (whatever FastAPI's internal nesting)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from api_routes(router.routes)
        elif isinstance(getattr(route, "routes", None), list):
            yield from api_routes(route.routes)


def access_of(route: Any) -> Access | None:
    """The :class:`Access` a route goes through (searched through its dependencies), or None."""
    stack = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Access):
            return dep.call
        stack.extend(dep.dependencies)
    return None
