"""Heavy routes compute on a bounded pool of threads, never on the event loop.

A route marked :func:`heavy` is written as a plain function and runs in a worker thread, at most
``MATCHING_WORKER_THREADS`` at once (an AnyIO capacity limiter of the app's own, apart from the thread pool that
runs FastAPI's other plain routes): while every worker is busy ranking, further heavy requests wait their turn
without holding a thread, and ``/health``, sign-in and the light routes still answer.  Its store connection
(a parameter named ``conn``) is opened in the worker thread, once it has a worker: waiting requests hold none, so
they cannot take every connection of the pool (the light routes' and sign-in's included).  On an idle machine the
hop to a thread costs some tens of microseconds on a request of several milliseconds.  The GIL still shares one
core among the threads: more cores need more worker processes (``uvicorn --workers``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI

P = ParamSpec("P")
R = TypeVar("R")


def limiter(app: FastAPI) -> CapacityLimiter:
    """The app's limiter for heavy work (one per event loop: a test client may run several, one after another)."""
    loop = asyncio.get_running_loop()
    held: tuple[asyncio.AbstractEventLoop, CapacityLimiter] | None = getattr(app.state, "heavy_limiter", None)
    if held is None or held[0] is not loop:
        held = (loop, CapacityLimiter(app.state.settings.worker_threads))
        app.state.heavy_limiter = held
    return held[1]


def heavy(route: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run the (plain) route ``route`` in the app's pool of heavy-work threads; it must take ``request``, and a
    parameter ``conn`` is given a connection to the store opened in the worker thread."""
    signature = inspect.signature(route, eval_str=True)  # FastAPI reads the parameters from the wrapper
    if "request" not in signature.parameters:
        raise TypeError(f"{route.__name__}: a heavy route takes the request (to find its app's limiter)")
    takes_conn = "conn" in signature.parameters
    public = signature.replace(parameters=[p for name, p in signature.parameters.items() if name != "conn"])

    @functools.wraps(route)
    async def offloaded(*args: Any, **kwargs: Any) -> R:
        app = kwargs["request"].app

        def run() -> R:
            if not takes_conn:
                return route(*args, **kwargs)
            with app.state.engine.connect() as conn:
                return route(*args, conn=conn, **kwargs)

        return await anyio.to_thread.run_sync(run, limiter=limiter(app))

    offloaded.__signature__ = public  # type: ignore[attr-defined]
    return offloaded
