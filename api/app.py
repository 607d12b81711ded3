"""The FastAPI application factory: transport only, thin routes over the ``matching`` library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

import matching
from api.auth import (
    AuditMiddleware,
    Authenticator,
    PageForbiddenError,
    SignInRequiredError,
    access_of,
    api_routes,
)
from api.errors import install as install_error_handlers
from api.jobs import make_runner
from api.middleware import GuardMiddleware, HeadersMiddleware, install_access_log_filter
from api.pools import PoolCache
from api.responses import FastJSONResponse
from api.routes import (
    allocations,
    audit,
    children,
    decisions,
    docs,
    health,
    households,
    matches,
    monitoring,
    outcomes,
    pages,
    plans,
    referral_records,
    referral_sending,
    referrals,
    sign_on,
    stepdown,
    subject_access,
    sufficiency,
)
from api.settings import Settings, get_settings
from api.templating import page_context, templates
from matching.accounts.demo import demo_accounts_enabled
from matching.accounts.oidc import load_oidc_config
from matching.accounts.production import ProductionConfigError, production_problems
from matching.audit import AuditWriter
from matching.fit_config import load_fit_config
from matching.store.engine import open_store
from matching.taxonomy import load_taxonomy


def check_production(settings: Settings, engine: Engine) -> None:
    """Refuse to start in production unless it is configured for it (:class:`ProductionConfigError` naming every
    problem on one line)."""
    if not settings.production:
        return
    with engine.connect() as conn:
        demo = demo_accounts_enabled(conn)
    client_id = None
    if "oidc" in settings.methods and settings.oidc_config is not None:
        client_id = load_oidc_config(settings.oidc_config).client_id
    secret = settings.oidc_client_secret
    problems = production_problems(
        environment=settings.environment,
        signing_secret=settings.signing_secret,
        sign_in_methods=settings.methods,
        allowed_hosts=settings.hosts,
        demo_accounts=demo,
        oidc_client_id=client_id,
        oidc_client_secret=secret.get_secret_value() if secret is not None else None,
    )
    if "oidc" in settings.methods and settings.oidc_config is None:
        problems.append("sign-in method oidc needs MATCHING_OIDC_CONFIG (the single sign-on configuration file)")
    if problems:
        raise ProductionConfigError(problems)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    if app.state.audit_closed:  # started again after a shutdown (tests)
        app.state.audit = AuditWriter(app.state.engine)
        app.state.audit_closed = False
    app.state.jobs.start()  # interrupted jobs of a previous run are marked, queued ones start
    yield
    # Running jobs are stopped and marked interrupted; queued ones wait for the next start.
    await run_in_threadpool(app.state.jobs.stop)
    app.state.audit.close()
    app.state.audit_closed = True


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service on ``engine`` (default: the store named by the settings, schema brought up to date).

    In production, raises :class:`ProductionConfigError` unless the settings are fit for it."""
    settings = settings or get_settings()
    engine = engine if engine is not None else open_store(settings.database_url)
    check_production(settings, engine)
    app = FastAPI(
        default_response_class=FastJSONResponse,
        title="placement-matching",
        version=matching.__version__,
        description="Decision support for placing children in care with foster carers. A named officer decides; "
        "the service explains and records. All data here is synthetic unless your authority imported its own.\n\n"
        "Every operation but `/health` needs a signed-in caller: a bearer token (`matching tokens issue USER "
        "--name WHAT`, then `Authorization: Bearer pm_...`) or the pages' session cookie. Each operation names "
        "the permission it needs (`x-permission`); answers hold only what is in the caller's remit, and every "
        "request that reads a child's records is recorded in the audit trail (with `X-Purpose` if given).",
        lifespan=_lifespan,
        docs_url=None,  # served from local files by api.routes.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.pools = PoolCache(
        load_taxonomy(), load_fit_config(), max_pools=settings.pool_cache_size, max_keyed=settings.keyed_cache_size
    )
    app.state.jobs = make_runner(engine, settings)
    app.state.auth = Authenticator(engine, settings)
    app.state.audit = AuditWriter(engine)
    app.state.audit_closed = False
    for module in (
        health,
        children,
        households,
        matches,
        referrals,
        referral_records,
        decisions,
        referral_sending,
        monitoring,
        outcomes,
        plans,
        allocations,
        pages,
        sign_on,
        stepdown,
        sufficiency,
        audit,
        subject_access,
    ):
        app.include_router(module.router)
    docs.install(app)
    install_error_handlers(app)
    install_access_log_filter()
    app.add_middleware(AuditMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.hosts)
    app.add_middleware(GuardMiddleware, settings=settings)  # loopback only in development; body size
    app.add_middleware(HeadersMiddleware)  # outermost: every reply, refusals included

    @app.exception_handler(SignInRequiredError)
    async def _sign_in(_request: Request, exc: SignInRequiredError) -> Response:
        return RedirectResponse(f"/pages/sign-in?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(PageForbiddenError)
    async def _forbidden(request: Request, exc: PageForbiddenError) -> Response:
        return templates.TemplateResponse(
            request, "forbidden.html", {**page_context(request), "message": str(exc)}, status_code=403
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/pages/home")

    _document_access(app)
    return app


_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_REFUSALS = {
    "401": "Not signed in: no bearer token or session, or it is unknown, expired or revoked (`WWW-Authenticate: Bearer`)",
    "403": "Signed in, but the role lacks the permission, or what is asked is outside the caller's remit",
    "503": "The audit trail cannot record the request just now: nothing was read or done",
}
_TOO_LARGE = "The request body is over MATCHING_MAX_BODY_BYTES (refused before it is read)"


def _document_access(app: FastAPI) -> None:
    """Name each operation's permission in the OpenAPI document (``x-permission``) and its refusals."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
                "ErrorOut",
                {"title": "ErrorOut", "type": "object", "properties": {"detail": {"type": "string"}}},
            )
            for route in api_routes(app.routes):
                access = access_of(route)
                if not route.include_in_schema or access is None:
                    continue
                for method in route.methods or ():
                    op = schema["paths"][route.path_format][method.lower()]
                    if access.permission is not None:
                        op["x-permission"] = access.permission.value
                        op["description"] = (
                            f"{op.get('description', '')}\n\nNeeds permission `{access.permission.value}` "
                            f"({access.permission.label})."
                        ).strip()
                    refusals = {**_REFUSALS, **({"413": _TOO_LARGE} if "requestBody" in op else {})}
                    for status, text in refusals.items():
                        op["responses"].setdefault(
                            status, {"description": text, "content": {"application/json": {"schema": _ERROR}}}
                        )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
