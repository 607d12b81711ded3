"""Issue 17 (API side): heavy routes off the event loop, limits on what a caller controls, security headers,
local API documents, error replies that never echo the input, an access log without ids, the loopback guard."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from api import middleware
from api.app import create_app
from api.middleware import GuardMiddleware
from api.pools import PoolCache
from api.settings import Settings
from matching.access import Role
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.ranking import service
from matching.taxonomy import load_taxonomy
from tests.api.conftest import app_of
from tests.api.test_matches import referral

ON = "2026-04-01"
CHILD = "L001-C00002"
STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


def _has_security_headers(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert "camera=()" in r.headers["permissions-policy"]


# --- (c) security headers and no-store -----------------------------------------------------------------


def test_security_headers_on_pages_json_errors_and_static(client: TestClient, page_client: TestClient) -> None:
    replies = {
        "sign-in page": client.get("/pages/sign-in"),
        "signed-in page": page_client.get("/pages/waiting", params={"on": ON}),
        "step-down page": page_client.get("/pages/step-down"),
        "JSON": client.get(f"/v1/children/{CHILD}"),
        "404": client.get("/v1/children/NOPE-1"),
        "422": client.get("/v1/children", params={"limit": 0}),
        "401": client.get("/v1/children", headers={"Authorization": "Bearer nope"}),
        "no route": client.get("/nowhere"),
        "docs": client.get("/docs"),
        "static": client.get("/static/pages.css"),
    }
    for what, r in replies.items():
        assert all(h in r.headers for h in SECURITY), what
        _has_security_headers(r)
    assert "strict-transport-security" not in replies["JSON"].headers  # plain HTTP: not asked for


def test_hsts_over_https(make_client: Callable[..., TestClient], tokens: dict[Role, str]) -> None:
    client = make_client(token=tokens[Role.PLACEMENT_OFFICER])
    client.base_url = httpx.URL("https://testserver")
    r = client.get(f"/v1/children/{CHILD}")
    assert r.status_code == 200
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_store_on_child_data_but_not_static_assets(client: TestClient, page_client: TestClient) -> None:
    for r in (
        client.get(f"/v1/children/{CHILD}"),
        client.get(f"/v1/children/{CHILD}/matches", params={"on": ON, "top": 2}),
        client.get("/v1/step-down"),
        client.get("/v1/children/NOPE-1"),
        page_client.get(f"/pages/children/{CHILD}/matches", params={"on": ON, "top": 2}),
        page_client.get("/pages/step-down"),
    ):
        assert r.status_code in (200, 404)
        assert r.headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/pages.css").headers.get("cache-control", "")


def test_a_failing_route_answers_500_with_headers_and_nothing_else(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    app = app_of(client)

    def boom() -> None:
        raise RuntimeError("secret detail L001-C00002")

    app.add_api_route("/boom", boom)
    quiet = TestClient(app, raise_server_exceptions=False)
    r = quiet.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error: the request was not completed"}
    _has_security_headers(r)


def _inline_style_hashes(csp: str) -> set[str]:
    style = next(d for d in csp.split("; ") if d.startswith("style-src"))
    return set(re.findall(r"'sha256-([^']+)'", style))


def test_pages_render_under_the_policy(client: TestClient, page_client: TestClient) -> None:
    """No inline script, no style attribute, and every <style> element allowed by its hash."""
    import base64

    for r in (
        client.get("/pages/sign-in"),
        page_client.get("/pages/home"),
        page_client.get("/pages/waiting", params={"on": ON}),
        page_client.get(f"/pages/children/{CHILD}/matches", params={"on": ON, "top": 3}),
        page_client.get("/pages/step-down"),
        page_client.get(f"/pages/children/{CHILD}", params={"on": ON}),
        client.get("/docs"),
    ):
        assert r.status_code == 200, r.url
        html = r.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), r.url  # every script is a file
        assert not re.search(r"\sstyle=", html), r.url
        assert not re.search(r"\son[a-z]+=", html), r.url  # no inline event handler
        allowed = _inline_style_hashes(r.headers["content-security-policy"])
        for block in re.findall(r"<style>(.*?)</style>", html, re.S):
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            assert digest in allowed, r.url
        for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            assert client.get(ref).status_code == 200, ref


# --- (d) the API documents from local files --------------------------------------------------------------


def test_docs_use_only_local_assets(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs
    assert all(ref.startswith("/static/") for ref in refs), refs
    assert "cdn" not in r.text.lower()
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_vendored_swagger_ui_is_the_version_its_readme_names() -> None:
    readme = (STATIC / "swagger-ui" / "README.md").read_text()
    sums = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)}
    assert set(sums) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    for name, digest in sums.items():
        assert hashlib.sha256((STATIC / "swagger-ui" / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (STATIC / "swagger-ui" / "LICENSE").read_text()


# --- (b) limits -------------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    huge = referral(needs={f"need_{i}": 1 for i in range(200_000)})  # ~3.6 MB, as the tester's 2.7 MB one
    r = client.post("/v1/matches", json=huge)
    assert r.status_code == 413
    assert "MATCHING_MAX_BODY_BYTES" in r.json()["detail"]
    assert len(r.content) < 200
    _has_security_headers(r)


def test_a_body_without_length_is_cut_off_at_the_limit(client_as: Callable[..., TestClient]) -> None:
    client = client_as(Role.PLACEMENT_OFFICER, Settings(max_body_bytes=2048))

    def chunks() -> Iterator[bytes]:
        yield b'{"child": {"la_code": "L001", "birth_month": "2014-05", "sex": "F"}, "cultural_needs": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    r = client.post("/v1/matches", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "2048 bytes (MATCHING_MAX_BODY_BYTES)" in r.json()["detail"]
    small = client.post("/v1/matches", json=referral())
    assert small.status_code == 200


def _locs(r: httpx.Response) -> set[tuple[Any, ...]]:
    assert r.status_code == 422, r.text
    return {tuple(e["loc"]) for e in r.json()["detail"]}


def test_list_and_top_limits_are_422_naming_the_field(client: TestClient) -> None:
    sibling = {"birth_month": "2015-01", "sex": "M"}
    cases = {
        ("body", "siblings_to_place_with"): referral(siblings_to_place_with=[sibling] * 9),
        ("body", "needs"): referral(needs={f"n{i}": 1 for i in range(41)}),
        ("body", "risks_to_child"): referral(risks_to_child=["self_harm"] * 21),
        ("body", "child", "first_languages"): referral(
            child={**referral()["child"], "first_languages": ["english"] * 6}
        ),
    }
    for loc, body in cases.items():
        assert loc in _locs(client.post("/v1/matches", json=body)), loc
    assert ("query", "top") in _locs(client.get(f"/v1/children/{CHILD}/matches", params={"top": 101}))
    assert ("path", "child_id") in _locs(client.get(f"/v1/children/{'x' * 65}/matches"))


def test_dates_outside_the_window_are_422_naming_the_field(client: TestClient) -> None:
    for path in (f"/v1/children/{CHILD}/matches", "/v1/step-down", f"/v1/children/{CHILD}/step-down"):
        r = client.get(path, params={"on": "1901-01-01"})
        assert ("query", "on") in _locs(r), path
        assert "MATCHING_DATE_WINDOW_DAYS" in r.text
    r = client.post("/v1/matches", json=referral(placement_date="2199-01-01"))
    assert _locs(r) == {("body", "placement_date")}
    assert client.get(f"/v1/children/{CHILD}/matches", params={"on": ON}).status_code == 200


def test_date_window_is_a_setting(client_as: Callable[..., TestClient]) -> None:
    client = client_as(Role.PLACEMENT_OFFICER, Settings(date_window_days=0))
    far = "2030-01-01"  # after today and after the store's records: outside a window of 0 days
    assert ("query", "on") in _locs(client.get(f"/v1/children/{CHILD}/matches", params={"on": far}))
    assert client.get(f"/v1/children/{CHILD}/matches", params={"on": ON}).status_code == 200


def test_sufficiency_and_allocation_limits_are_422_naming_field_and_setting(
    client_as: Callable[..., TestClient],
) -> None:
    lead = client_as(Role.COMMISSIONING_LEAD, Settings(sufficiency_max_futures=100, sufficiency_max_recruits=50))
    base = {"name": "t", "area": {"las": ["L001"]}, "horizon_months": 6, "simulations": 40, "seed": 5}
    r = lead.post("/v1/sufficiency/runs", json={**base, "simulations": 101})
    assert _locs(r) == {("body", "simulations")}
    assert "MATCHING_SUFFICIENCY_MAX_FUTURES" in r.text
    r = lead.post("/v1/sufficiency/runs", json={**base, "levers": {"recruit": [{"households": 30}] * 2}})
    assert _locs(r) == {("body", "levers")}
    assert "MATCHING_SUFFICIENCY_MAX_RECRUITS" in r.text
    r = lead.post("/v1/sufficiency/runs", json={**base, "levers": {"recruit": [{"households": 0}] * 51}})
    assert ("body", "levers", "recruit") in _locs(r)
    r = lead.post("/v1/allocations", json={"time_limit_seconds": 61})
    assert _locs(r) == {("body", "time_limit_seconds")}
    assert "MATCHING_ALLOCATION_MAX_SECONDS" in r.text
    r = lead.post("/v1/allocations", json={"placement_date": "1950-01-01"})
    assert _locs(r) == {("body", "placement_date")}


def test_step_down_date_cache_stays_bounded(client_as: Callable[..., TestClient]) -> None:
    client = client_as(Role.PLACEMENT_OFFICER, Settings(keyed_cache_size=3))
    cache: PoolCache = app_of(client).state.pools
    for day in range(1, 9):
        assert client.get("/v1/step-down", params={"on": f"2026-0{1 + day % 6}-{day:02d}"}).status_code == 200
        assert cache.sizes()[1] <= 3


def test_pool_cache_drops_the_least_recently_used(loaded_sqlite: Engine) -> None:
    cache = PoolCache(load_taxonomy(), load_fit_config(), max_pools=2, max_keyed=2)
    with loaded_sqlite.connect() as conn:
        for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
            cache.get_keyed(conn, key, lambda k=key: k)
        built: list[str] = []
        cache.get_keyed(conn, "a", lambda: built.append("a") or "a")
        cache.get_keyed(conn, "b", lambda: built.append("b") or "b")
        assert built == ["b"]
        for la in ("L001", "L002", "L003"):
            cache.get(conn, Scope(la_codes=frozenset({la})))
    assert cache.sizes() == (2, 2)


def test_language_cache_keeps_only_languages_households_speak(client: TestClient) -> None:
    assert client.post("/v1/matches", json=referral()).status_code == 200
    pools = [pool for _, pool in app_of(client).state.pools._pools.values()]
    before = [len(p._language_cache) for p in pools]
    for i in range(30):
        child = {**referral()["child"], "first_languages": [f"made-up-{i}"]}
        assert client.post("/v1/matches", json=referral(child=child)).status_code == 200
    assert [len(p._language_cache) for p in pools] == before


# --- (e) error replies never echo the input -----------------------------------------------------------------

# Free text as a referral holds it: words with spaces and punctuation (a plain name may be echoed in a field path).
_FREE_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=3, max_size=40).map(
    lambda s: "Zq " + s
)


def _echoed(text: str, reply: httpx.Response) -> bool:
    import json

    return text in reply.text or json.dumps(text)[1:-1] in reply.text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_FREE_TEXT, where=st.sampled_from(["wishes", "cultural", "sex", "birth_month", "child_id", "language"]))
def test_validation_errors_never_echo_free_text(client: TestClient, text: str, where: str) -> None:
    body = referral()
    if where == "wishes":
        body["wishes"] = {"text": (text + " ") * (4001 // (len(text) + 1) + 1)}
    elif where == "cultural":
        body["cultural_needs"] = (text + " ") * (2001 // (len(text) + 1) + 1)
    elif where == "language":
        body["child"] = {**body["child"], "first_languages": [(text + " ") * (41 // (len(text) + 1) + 1)]}
    else:
        body["child"] = {**body["child"], where: text}
    r = client.post("/v1/matches", json=body)
    assert r.status_code == 422
    assert not _echoed(text, r), r.text
    for problem in r.json()["detail"]:
        assert set(problem) == {"loc", "msg", "type"}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_FREE_TEXT)
def test_refusals_never_echo_what_was_sent(client: TestClient, text: str) -> None:
    safe = re.sub(r"[^A-Za-z0-9]", "", text)[:30] or "Zq"
    for r in (
        client.get(f"/v1/children/{safe}"),
        client.get(f"/v1/children/{safe}/matches"),
        client.get(f"/v1/carers/{safe}/matches"),
        client.get(f"/v1/children/{CHILD}/matches", params={"on": text}),
        client.get("/v1/children", params={"limit": text}),
        client.post("/v1/matches", json=referral(needs={text: 1})),
        client.post("/v1/matches", json={**referral(), text: 1}),
        client.post("/v1/matches", json=referral(child={**referral()["child"], "la_code": safe})),
    ):
        assert 400 <= r.status_code < 500
        assert not _echoed(text, r), r.text
        if len(safe) > 3:
            assert safe not in r.text, r.text


def test_cross_field_errors_name_the_path_not_the_value(client: TestClient) -> None:
    bad = referral(suitable_for=["supported_accommodation"], emergency_outside_terms=True)
    bad["child"]["birth_month"] = "2030-01"
    r = client.post("/v1/matches", json=bad)
    for problem in r.json()["detail"]:
        assert set(problem) == {"loc", "msg", "type"}
    assert "2030-01" not in r.text


def test_many_errors_are_summed_up(client: TestClient) -> None:
    r = client.post("/v1/matches", json=referral(risks_to_child=["nope"] * 20, allergies=["nope"] * 20))
    problems = r.json()["detail"]
    assert len(problems) == 21
    assert problems[-1]["type"] == "too_many_errors"


# --- (a) heavy routes off the event loop ------------------------------------------------------------------


def test_health_answers_while_every_worker_is_busy(
    client_as: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_as(Role.PLACEMENT_OFFICER, Settings(worker_threads=2))
    release = threading.Event()
    busy = threading.Semaphore(0)
    running = [0, 0]  # now, most at once
    lock = threading.Lock()
    rank = service.rank_households

    def slow_rank(**kw: Any) -> Any:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        busy.release()
        release.wait(20)
        with lock:
            running[0] -= 1
        return rank(**kw)

    monkeypatch.setattr(service, "rank_households", slow_rank)
    heavy = [
        threading.Thread(target=client.get, args=(f"/v1/children/{CHILD}/matches",), kwargs={"params": {"on": ON}})
        for _ in range(4)
    ]
    for t in heavy:
        t.start()
    try:
        assert busy.acquire(timeout=20)
        assert busy.acquire(timeout=20)
        answered: list[int] = []
        probe = threading.Thread(target=lambda: answered.append(client.get("/health").status_code))
        started = time.perf_counter()
        probe.start()
        probe.join(timeout=10)
        assert answered == [200], "health did not answer while the heavy routes were busy"
        assert time.perf_counter() - started < 5
        time.sleep(0.2)
        assert running[1] == 2  # the other two heavy requests wait for a worker
    finally:
        release.set()
        for t in heavy:
            t.join(timeout=60)
    assert running[1] == 2


# --- (f) the access log ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_access_log_has_route_templates_never_ids(loaded_sqlite: Engine, tokens: dict[Role, str]) -> None:
    app = create_app(Settings(), engine=loaded_sqlite)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info"))  # uvicorn's logging
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep = Keep()
    logging.getLogger("uvicorn.access").addHandler(keep)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {tokens[Role.PLACEMENT_OFFICER]}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            assert http.get(f"/v1/children/{CHILD}").status_code == 200
            assert http.get(f"/v1/children/{CHILD}/matches", params={"on": ON, "top": 2}).status_code == 200
            assert http.get("/v1/children/SECRET-C0001").status_code == 404
            assert http.get("/nowhere/SECRET-C0002").status_code == 404
            assert http.get("/v1/children", params={"la_code": "SECRET-LA"}).status_code == 200
            assert http.get("/static/pages.css").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        logging.getLogger("uvicorn.access").removeHandler(keep)
    assert len(lines) == 6, lines
    text = "\n".join(lines)
    assert CHILD not in text
    assert "SECRET" not in text
    assert "?" not in text
    assert '"GET /v1/children/{child_id} HTTP/1.1" 200' in text
    assert '"GET /v1/children/{child_id}/matches HTTP/1.1" 200' in text
    assert '"GET - HTTP/1.1" 404' in text


# --- (g) the loopback guard ------------------------------------------------------------------------------------


def test_development_refuses_a_client_beyond_loopback(make_client: Callable[..., TestClient]) -> None:
    app = app_of(make_client())
    for client in (("203.0.113.7", 5000), ("10.0.0.2", 5000), ("::ffff:192.0.2.1", 5000), ("localhost", 1)):
        r = TestClient(app, client=client).get("/health")
        assert r.status_code == 403, client
        assert "MATCHING_ENVIRONMENT=production" in r.json()["detail"]
        _has_security_headers(r)
    for client in (("127.0.0.1", 5000), ("::1", 5000), ("127.0.0.5", 1), ("::ffff:127.0.0.1", 1)):
        assert TestClient(app, client=client).get("/health").status_code == 200, client


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_production_serves_any_client() -> None:
    guard = GuardMiddleware(_ok, settings=Settings(environment="production"))
    assert TestClient(guard, client=("203.0.113.7", 5000)).get("/").status_code == 200
    guard = GuardMiddleware(_ok, settings=Settings())
    assert TestClient(guard, client=("203.0.113.7", 5000)).get("/").status_code == 403


def test_the_policy_allows_only_the_reports_own_style() -> None:
    import base64

    from matching.stepdown.report import REPORT_CSS

    digest = base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
    assert _inline_style_hashes(middleware.CONTENT_SECURITY_POLICY) == {digest}
