"""More simultaneous requests than the store has connections: every one is answered (issue 17, a service that
stays up).  Before, a request took its connection on the event loop, and sign-in took a second one from the same
pool while the first was held: 64 clients on a light route left every request waiting 30 s for a connection and
the server answered nothing (found by the service benchmark's light-route probe)."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from api.app import create_app
from api.settings import Settings
from matching.access import Role


def test_more_requests_than_connections_are_all_answered(loaded_sqlite: Engine, tokens: dict[Role, str]) -> None:
    # A pool of two connections and no overflow, that gives up after 5 s: the old code could not answer 24
    # simultaneous requests with it.
    small = create_engine(loaded_sqlite.url, pool_size=2, max_overflow=0, pool_timeout=5)
    app = create_app(Settings(), engine=small)
    statuses: list[int] = []
    lock = threading.Lock()
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {tokens[Role.PLACEMENT_OFFICER]}"

        def ask(k: int) -> None:
            path = "/v1/children" if k % 2 else "/v1/households"
            r = client.get(path, params={"limit": 2})
            with lock:
                statuses.append(r.status_code)

        started = time.monotonic()
        threads = [threading.Thread(target=ask, args=(k,)) for k in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        health = client.get("/health")
    small.dispose()
    assert statuses == [200] * 24, statuses
    assert health.status_code == 200
    assert time.monotonic() - started < 60  # a generous bound: the old code took 5 s per wave of timeouts
