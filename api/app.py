"""The FastAPI application factory: transport only, thin routes over the ``matching`` library."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

import matching
from api.jobs import JobStore
from api.pools import PoolCache
from api.responses import FastJSONResponse
from api.routes import allocations, children, health, households, matches, pages, stepdown, sufficiency
from api.settings import Settings, get_settings
from matching.fit_config import load_fit_config
from matching.store.engine import open_store
from matching.taxonomy import load_taxonomy


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service on ``engine`` (default: the store named by the settings, schema brought up to date)."""
    settings = settings or get_settings()
    app = FastAPI(
        default_response_class=FastJSONResponse,
        title="placement-matching",
        version=matching.__version__,
        description="Decision support for placing children in care with foster carers. A named officer decides; "
        "the service explains and records. All data here is synthetic unless your authority imported its own.",
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else open_store(settings.database_url)
    app.state.pools = PoolCache(load_taxonomy(), load_fit_config())
    app.state.jobs = JobStore()
    app.include_router(health.router)
    app.include_router(children.router)
    app.include_router(households.router)
    app.include_router(matches.router)
    app.include_router(allocations.router)
    app.include_router(pages.router)
    app.include_router(stepdown.router)
    app.include_router(sufficiency.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/pages/waiting")

    return app
