"""Limits on what a caller controls that depend on the settings (docs/limits.md lists every limit).

Limits fixed by the API's contract (list lengths, text lengths, ``top``) are declared on the request models and
published in the OpenAPI document.  The ones an operator may tune are settings (``MATCHING_...``): the request
models check them against the settings of the app answering the request (:func:`request_settings`, set for each
request by :class:`~api.middleware.GuardMiddleware`), so a refusal is a 422 at the field's path that names the
setting, like any other validation error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import field_validator
from sqlalchemy import Connection

from api.pools import PoolCache
from api.settings import Settings
from matching.decisions.plan import MAX_SECTION, SECTION_KEYS
from matching.store import queries
from matching.sufficiency.scenario import Levers, Scenario

_SETTINGS: ContextVar[Settings | None] = ContextVar("matching_request_settings", default=None)
_DEFAULTS = Settings.model_construct()  # the defaults, without reading the environment

#: The longest character escape in a body: 12 bytes (a JSON surrogate pair, or four UTF-8 bytes percent-encoded).
ESCAPED_CHARACTER_BYTES = 12
#: The largest placement plan's body, through the API or its form: every section a plan may send at its longest,
#: each character at its longest escape, with the keys and the form's token.  Over ``MATCHING_MAX_BODY_BYTES``
#: (a whole plan is about 9 x 8,000 characters), so the plan's paths have this limit instead.
PLAN_BODY_BYTES = (len(SECTION_KEYS) + 4) * (MAX_SECTION * ESCAPED_CHARACTER_BYTES + 128) + 1024


@contextmanager
def settings_for_request(settings: Settings) -> Iterator[None]:
    """Within the block, :func:`request_settings` is ``settings``."""
    token = _SETTINGS.set(settings)
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def request_settings() -> Settings:
    """The settings of the app answering the current request (the defaults outside a request)."""
    return _SETTINGS.get() or _DEFAULTS


def invalid(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 naming the field at ``loc`` and the problem (never the value submitted)."""
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg}])


# --- dates ------------------------------------------------------------------------------------------


def date_window(request: Request, conn: Connection) -> tuple[date, date]:
    """The dates a caller may ask about: the store's records, from the first to the last (or today, if later),
    widened by ``MATCHING_DATE_WINDOW_DAYS`` each side (kept until the next import)."""
    span = _store_dates(request, conn)
    today = date.today()
    first, last = span if span is not None else (today, today)
    widen = timedelta(days=request.app.state.settings.date_window_days)
    return first - widen, max(last, today) + widen


def as_at(request: Request, conn: Connection) -> date:
    """The date every route answers for when none is given: the store's "as at" date
    (:func:`matching.store.queries.as_at`), kept until the next import."""
    return queries.as_at_of(_store_dates(request, conn))


def _store_dates(request: Request, conn: Connection) -> tuple[date, date] | None:
    """The store's first and last record dates (:func:`matching.store.queries.data_dates`), read once per
    import: the date window and the as-at date both come from them."""
    cache: PoolCache = request.app.state.pools
    return cache.get_keyed(conn, ("store-dates",), lambda: queries.data_dates(conn))


def on_or_as_at(request: Request, conn: Connection, when: date | None, loc: tuple[str | int, ...]) -> date:
    """``when`` checked against :func:`date_window` (422 at ``loc`` outside it), or the store's "as at" date."""
    check_date(request, conn, when, loc)
    return when if when is not None else as_at(request, conn)


def check_date(request: Request, conn: Connection, when: date | None, loc: tuple[str | int, ...]) -> None:
    """422 at ``loc`` when ``when`` is outside :func:`date_window`."""
    if when is None:
        return
    low, high = date_window(request, conn)
    if not low <= when <= high:
        raise invalid(
            loc,
            f"a date between {low.isoformat()} and {high.isoformat()}: the store's records widened by "
            f"MATCHING_DATE_WINDOW_DAYS",
            "date_window",
        )


# --- sufficiency scenarios through the API -------------------------------------------------------------


class ScenarioIn(Scenario):
    """A sufficiency scenario (as in data/scenarios/), within the API's limits: at most
    ``MATCHING_SUFFICIENCY_MAX_FUTURES`` futures and ``MATCHING_SUFFICIENCY_MAX_RECRUITS`` households recruited
    over all recruit levers."""

    @field_validator("simulations")
    @classmethod
    def _futures(cls, value: int) -> int:
        limit = request_settings().sufficiency_max_futures
        if value > limit:
            raise ValueError(f"at most {limit} futures through the API (MATCHING_SUFFICIENCY_MAX_FUTURES); use the CLI")
        return value

    @field_validator("levers")
    @classmethod
    def _recruits(cls, value: Levers) -> Levers:
        limit = request_settings().sufficiency_max_recruits
        if sum(r.households for r in value.recruit) > limit:
            raise ValueError(
                f"levers.recruit: at most {limit} households in all through the API "
                "(MATCHING_SUFFICIENCY_MAX_RECRUITS); use the CLI"
            )
        return value


def allocation_seconds(value: Any) -> Any:
    """``time_limit_seconds`` within ``MATCHING_ALLOCATION_MAX_SECONDS``."""
    limit = request_settings().allocation_max_seconds
    if isinstance(value, int | float) and value > limit:
        raise ValueError(f"at most {limit:g} seconds (MATCHING_ALLOCATION_MAX_SECONDS)")
    return value
