"""What every request and reply goes through, whatever the route (pure ASGI, so nothing is buffered):

* :class:`GuardMiddleware`: in development, only loopback clients (however the server was started); request
  bodies within ``MATCHING_MAX_BODY_BYTES`` (413 before reading a larger one); the app's settings for the
  request models' limits (:mod:`api.limits`).
* :class:`HeadersMiddleware`: security headers on every reply (pages, JSON, errors, static files),
  ``Cache-Control: no-store`` on everything but the static assets, a 500 that says nothing when a route fails
  (a GOV.UK error page for ``/pages/``, JSON elsewhere),
  and the route's template for the access log.
* :func:`install_access_log_filter`: uvicorn's access log shows the route's template
  (``/v1/children/{child_id}/matches``), never the path a caller sent (child ids) nor its query string.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import re
from contextvars import ContextVar
from typing import Any

from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PAGES_PREFIX, error_page
from api.limits import PLAN_BODY_BYTES, settings_for_request
from api.responses import FastJSONResponse
from api.settings import Settings
from matching.stepdown.report import REPORT_CSS

STATIC_PREFIX = "/static/"
#: Paths allowed a larger body than ``MATCHING_MAX_BODY_BYTES``: (path pattern, their own limit).  The imports
#: page refuses more than its cap, as a page, before reading (this is the backstop for a body longer than it
#: said); a placement plan's sections may together be longer than the default allows.
BODY_LIMITS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/pages/admin/imports"), 50 * 1024 * 1024 + 1024 * 1024),
    (re.compile(r"/(v1|pages)/decisions/[0-9]+/plan(/edit)?"), PLAN_BODY_BYTES),
)


def body_limit(path: str, default: int) -> int:
    """The largest body a request to ``path`` may send."""
    return next((limit for pattern, limit in BODY_LIMITS if pattern.fullmatch(path)), default)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


#: No inline script at all; the only inline style is the step-down report's own ``<style>`` (by its hash: the
#: report is a self-contained file from the CLI too); the pages' styles are /static files.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' {_csp_hash(REPORT_CSS)}",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

_ROUTE: ContextVar[str | None] = ContextVar("matching_access_route", default=None)


def _template(scope: Scope) -> str:
    """The route a request matched, as its template; ``-`` when it matched none."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return STATIC_PREFIX + "{path}" if scope.get("path", "").startswith(STATIC_PREFIX) else "-"


class HeadersMiddleware:
    """Security headers and ``no-store`` on every reply; a bare 500 when a route fails (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] != "http.response.start":
                await send(message)
                return
            started = True
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if scope.get("scheme") == "https":
                headers["Strict-Transport-Security"] = HSTS
            if not scope["path"].startswith(STATIC_PREFIX):
                headers["Cache-Control"] = "no-store"
            token = _ROUTE.set(_template(scope))  # read by the access log's filter, within this call
            try:
                await send(message)
            finally:
                _ROUTE.reset(token)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:  # the error itself is logged by the server; the client learns nothing of it
                body: Response = (
                    error_page(None, 500)
                    if scope["path"].startswith(PAGES_PREFIX)
                    else FastJSONResponse({"detail": "internal error: the request was not completed"}, 500)
                )
                await body(scope, receive, send_with_headers)
            raise


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if client is None:  # a Unix socket
        return True
    host = str(client[0])
    if host == "testclient" and (scope.get("server") or ("",))[0] == "testserver":  # Starlette's test client
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


class GuardMiddleware:
    """Loopback clients only in development; bodies within the limit; the app's settings for its limits."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.settings.production and not _loopback(scope):
            refusal = FastJSONResponse(
                {
                    "detail": "this development server answers clients on this machine only "
                    "(MATCHING_ENVIRONMENT=production, with its settings, to serve others)"
                },
                403,
            )
            await refusal(scope, receive, send)
            return
        limit = body_limit(scope.get("path", ""), self.settings.max_body_bytes)
        too_large = f"the request body is over {limit} bytes (MATCHING_MAX_BODY_BYTES)"
        length = _content_length(scope)
        if length is not None and length > limit:
            await FastJSONResponse({"detail": too_large}, 413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a body sent without Content-Length, or longer than it said
                    raise HTTPException(status_code=413, detail=too_large)
            return message

        with settings_for_request(self.settings):
            await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length (a malformed one counts as too large)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else 1 << 62
    return None


class _AccessLogFilter(logging.Filter):
    """Uvicorn's access line with the route's template instead of the path and query sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return False  # not the line this knows how to clean: better unlogged than logged with an id
        record.args = (args[0], args[1], _ROUTE.get() or "-", args[3], args[4])
        return True


_FILTER = _AccessLogFilter()


def install_access_log_filter() -> None:
    """Clean uvicorn's access log (``uvicorn.access``) in this process, however the server was started."""
    logger = logging.getLogger("uvicorn.access")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
