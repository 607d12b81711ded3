"""Single sign-on at the pages: the whole authorization-code flow against a real OpenID provider on 127.0.0.1.

The app runs in FastAPI's test client; the browser's visit to the provider's authorization endpoint and the app's
own calls (discovery, key set, token endpoint) are real HTTP to the provider of ``tests/oidc_provider.py``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.settings import Settings
from matching.accounts.production import ProductionConfigError
from matching.audit import StoredEntry, flush_every_writer, recent_entries
from tests.api.conftest import ClientFactory
from tests.api.test_access import last_seq
from tests.oidc_provider import ASHBURY, AUDIENCE, CLIENT_ID, CLIENT_SECRET, FOSTERING, OFFICERS, Provider, new_key

ON = "2026-04-01"
START, CALLBACK = "/pages/sign-in/oidc", "/pages/sign-in/oidc/callback"
USERNAME = "sso.alice@ashbury.example"
PROVIDER_NAME = "Example Entra ID"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.close()


@pytest.fixture
def idp(provider: Provider) -> Iterator[Provider]:
    """The provider, giving the next sign-in Alice's claims (officers of Ashbury) unless a test changes them."""
    provider.reset()
    provider.next_claims = {"oid": "oid-sso-alice", "preferred_username": USERNAME}
    yield provider
    provider.reset()


SettingsFor = Callable[..., Settings]


@pytest.fixture
def settings_for(idp: Provider, tmp_path: Path) -> SettingsFor:
    """``settings_for(methods="password,oidc", secret=CLIENT_SECRET, **config)``: settings with single sign-on
    configured for the provider (its configuration file in ``tmp_path``)."""

    def make(methods: str = "password,oidc", secret: str | None = CLIENT_SECRET, **config: Any) -> Settings:
        path = tmp_path / "sso.json"
        raw = idp.raw_config(client_id=CLIENT_ID, provider_name=PROVIDER_NAME, **config)
        path.write_text(json.dumps(raw))
        return Settings(sign_in_methods=methods, oidc_config=path, oidc_client_secret=secret)

    return make


@pytest.fixture
def browser(make_client: ClientFactory, settings_for: SettingsFor) -> TestClient:
    return make_client(settings_for())


def _start(browser: TestClient, next_path: str | None = None) -> httpx.Response:
    r = browser.get(START, params={"next": next_path} if next_path is not None else None, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def _at_provider(location: str) -> str:
    """The browser at the provider's authorization endpoint (real HTTP): where it is sent back to."""
    r = httpx.get(location, follow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def _sso(browser: TestClient, next_path: str | None = None) -> httpx.Response:
    """The whole round trip; the callback's answer."""
    back = _at_provider(_start(browser, next_path).headers["location"])
    return browser.get(back, follow_redirects=False)


def _sign_ins(engine: Engine, since: int) -> list[StoredEntry]:
    flush_every_writer(engine)
    with engine.connect() as conn:
        return [e for e in recent_entries(conn, limit=200) if e.seq > since and e.action == "sign_in"]


def _session_cookie(r: httpx.Response) -> str | None:
    for header in r.headers.get_list("set-cookie"):
        if header.startswith("pm_session="):
            return header
    return None


def test_the_sign_in_page_offers_the_provider(make_client: ClientFactory, settings_for: SettingsFor) -> None:
    both = make_client(settings_for()).get("/pages/sign-in", params={"next": "/pages/waiting"})
    assert f"Sign in with {PROVIDER_NAME}" in both.text
    assert 'href="/pages/sign-in/oidc?next=%2Fpages%2Fwaiting"' in both.text
    assert 'name="password"' in both.text
    only = make_client(settings_for(methods="oidc"))
    page = only.get("/pages/sign-in")
    assert f"Sign in with {PROVIDER_NAME}" in page.text
    assert 'name="password"' not in page.text
    assert only.post("/pages/sign-in", data={"username": "x", "password": "y"}).status_code == 404
    # without the client secret (development only: production refuses to start) there is no button
    unfinished = make_client(settings_for(secret=None))
    assert "Sign in with" not in unfinished.get("/pages/sign-in").text
    assert unfinished.get(START).status_code == 404
    assert make_client(Settings()).get(CALLBACK).status_code == 404  # single sign-on not configured


def test_signing_in_ends_at_the_next_page_with_a_session(
    browser: TestClient, idp: Provider, loaded_sqlite: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    since = last_seq(loaded_sqlite)
    start = _start(browser, f"/pages/waiting?on={ON}")
    flow_cookie = next(h for h in start.headers.get_list("set-cookie") if h.startswith("pm_oidc="))
    assert "HttpOnly" in flow_cookie
    assert "SameSite=lax" in flow_cookie
    assert "Max-Age=600" in flow_cookie
    asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["location"]).query))
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == "http://testserver" + CALLBACK
    assert len(asked["state"]) >= 43  # 32 random bytes
    r = browser.get(_at_provider(start.headers["location"]), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/pages/waiting?on={ON}"
    session = _session_cookie(r)
    assert session is not None
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert any(h.startswith('pm_oidc=""') and "Max-Age=0" in h for h in r.headers.get_list("set-cookie"))
    page = browser.get(r.headers["location"])
    assert page.status_code == 200
    assert USERNAME in page.text
    assert "Placement officer" in page.text
    assert "L001-C" in page.text  # the waiting children of the remit the groups map to
    assert 'name="csrf_token"' in page.text
    # the token endpoint got the PKCE verifier (the provider checked it against the challenge) and the secret
    assert idp.token_requests[-1]["code_verifier"]
    assert [(e.username, e.outcome) for e in _sign_ins(loaded_sqlite, since)] == [(USERNAME, "ok")]
    assert "single sign-on at the pages" in (_sign_ins(loaded_sqlite, since)[0].detail or "")
    assert CLIENT_SECRET not in caplog.text
    with loaded_sqlite.connect() as conn:
        assert not [e for e in recent_entries(conn, limit=200) if CLIENT_SECRET in (e.detail or "")]
    # signing out works as after a password sign-in
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    out = browser.post("/pages/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert browser.get("/pages/home", follow_redirects=False).status_code == 303


def test_client_secret_basic(make_client: ClientFactory, settings_for: SettingsFor) -> None:
    browser = make_client(settings_for(token_endpoint_auth_method="client_secret_basic"))
    r = _sso(browser)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/pages/home"


def _refused(engine: Engine, since: int) -> list[str]:
    return [e.detail or "" for e in _sign_ins(engine, since) if e.outcome == "refused"]


def test_a_state_that_is_not_the_flows_is_refused(browser: TestClient, loaded_sqlite: Engine) -> None:
    since = last_seq(loaded_sqlite)
    back = _at_provider(_start(browser).headers["location"])
    parts = urllib.parse.urlsplit(back)
    query = dict(urllib.parse.parse_qsl(parts.query))
    forged = CALLBACK + "?" + urllib.parse.urlencode({**query, "state": "attackers-state"})
    r = browser.get(forged, follow_redirects=False)
    assert r.status_code == 400
    assert "expired or was started in another window" in r.text
    assert _session_cookie(r) is None
    assert any("state is not this sign-in's" in d for d in _refused(loaded_sqlite, since))


def test_a_callback_without_a_flow_is_refused(browser: TestClient, loaded_sqlite: Engine, idp: Provider) -> None:
    """A login-CSRF attempt: someone else's code and state, in a browser that started no sign-in."""
    since = last_seq(loaded_sqlite)
    other = TestClient(browser.app)
    back = _at_provider(_start(other).headers["location"])
    r = browser.get(back, follow_redirects=False)
    assert r.status_code == 400
    assert _session_cookie(r) is None
    assert any("no sign-in in progress" in d for d in _refused(loaded_sqlite, since))
    for junk in ("", "?state=x", "?code=x", "?code=x&state=y&error_description=z"):
        assert browser.get(CALLBACK + junk).status_code == 400


def test_a_replayed_callback_or_code_is_refused(browser: TestClient, loaded_sqlite: Engine) -> None:
    since = last_seq(loaded_sqlite)
    start = _start(browser)
    sealed = browser.cookies.get("pm_oidc")
    back = _at_provider(start.headers["location"])
    assert browser.get(back, follow_redirects=False).status_code == 303
    # the same answer again, with the flow's cookie put back: this process has seen the state
    browser.cookies.set("pm_oidc", sealed or "", domain="testserver.local")
    again = browser.get(back, follow_redirects=False)
    assert again.status_code == 400
    assert _session_cookie(again) is None
    assert any("used before (replayed)" in d for d in _refused(loaded_sqlite, since))
    # the used code with a fresh state (another process would not know the state): the provider refuses the code
    fresh = _at_provider(_start(browser).headers["location"])
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(fresh).query))["state"]
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["code"]
    replayed = browser.get(CALLBACK + "?" + urllib.parse.urlencode({"code": code, "state": state}))
    assert replayed.status_code == 400
    assert "could not be completed" in replayed.text
    assert any("code not redeemed" in d and "invalid_grant" in d for d in _refused(loaded_sqlite, since))


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"nonce": "another-sign-ins-nonce"}, "nonce is not this sign-in's"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "ExpiredSignature"),
        ({"iss": "https://login.example.org/another-tenant/v2.0"}, "InvalidIssuer"),
        ({"aud": AUDIENCE}, "InvalidAudience"),  # an API access token's audience, not this client's
        ({"aud": "another-application"}, "InvalidAudience"),
    ],
    ids=["wrong-nonce", "expired", "another-issuer", "api-audience", "another-audience"],
)
def test_an_id_token_that_does_not_hold_is_refused(
    browser: TestClient, idp: Provider, loaded_sqlite: Engine, claims: dict[str, Any], why: str
) -> None:
    since = last_seq(loaded_sqlite)
    idp.next_claims |= claims
    r = _sso(browser)
    assert r.status_code == 401
    assert "could not confirm who you are" in r.text
    assert _session_cookie(r) is None
    assert any(why in d for d in _refused(loaded_sqlite, since)), _refused(loaded_sqlite, since)


def test_an_id_token_signed_by_another_key_is_refused(
    browser: TestClient, idp: Provider, loaded_sqlite: Engine
) -> None:
    since = last_seq(loaded_sqlite)
    idp.next_key = new_key()
    r = _sso(browser)
    assert r.status_code == 401
    assert any("Signature" in d for d in _refused(loaded_sqlite, since))


def test_someone_whose_groups_map_to_no_role_is_refused(
    browser: TestClient, idp: Provider, loaded_sqlite: Engine
) -> None:
    since = last_seq(loaded_sqlite)
    idp.next_claims = {"oid": "oid-sso-bob", "preferred_username": "sso.bob@ashbury.example", "groups": [ASHBURY]}
    r = _sso(browser, "/pages/waiting")
    assert r.status_code == 403
    assert "Your account has no access to this service. Ask your administrator." in r.text
    assert _session_cookie(r) is None
    assert browser.get("/pages/waiting", follow_redirects=False).status_code == 303  # still not signed in
    refused = [(e.username, e.detail or "") for e in _sign_ins(loaded_sqlite, since) if e.outcome == "refused"]
    assert any(u == "sso.bob@ashbury.example" and "no mapped role" in d for u, d in refused)
    # two roles at once are refused too
    idp.next_claims = {"oid": "oid-sso-carl", "preferred_username": "sso.carl@x", "groups": [OFFICERS, FOSTERING]}
    assert _sso(browser).status_code == 403


def test_the_providers_error_is_a_readable_page(browser: TestClient, idp: Provider, loaded_sqlite: Engine) -> None:
    since = last_seq(loaded_sqlite)
    idp.next_error = "access_denied"
    r = _sso(browser, "/pages/waiting")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert f"Signing in with {PROVIDER_NAME} was cancelled or refused" in r.text
    assert "<b>User declined</b>" not in r.text  # the provider's description is not shown
    assert any("error=access_denied" in d for d in _refused(loaded_sqlite, since))
    idp.next_error = "server_error<script>"
    r = _sso(browser)
    assert r.status_code == 400
    assert "could not sign you in just now" in r.text
    assert any("error=unknown" in d for d in _refused(loaded_sqlite, since))


@pytest.mark.parametrize(
    "next_path",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/pages/\x00home"],
)
def test_next_never_leaves_the_site(browser: TestClient, next_path: str) -> None:
    r = _sso(browser, next_path)
    assert r.status_code == 303
    assert r.headers["location"] == "/pages/home"


def test_a_long_next_keeps_the_flows_cookie_small(browser: TestClient) -> None:
    start = _start(browser, "/pages/waiting?x=" + "é" * 900)
    assert len(browser.cookies.get("pm_oidc") or "") < 1000
    r = browser.get(_at_provider(start.headers["location"]), follow_redirects=False)
    assert r.headers["location"] == "/pages/home"
    assert _sso(browser, "/pages/waiting?x=" + "a" * 900).headers["location"] == "/pages/waiting?x=" + "a" * 900


def test_the_provider_out_of_reach_is_a_readable_page(make_client: ClientFactory, tmp_path: Path) -> None:
    path = tmp_path / "down.json"
    down = {"issuer": "http://127.0.0.1:9/tenant", "audience": [AUDIENCE], "client_id": CLIENT_ID}
    path.write_text(json.dumps(down))
    browser = make_client(Settings(sign_in_methods="oidc", oidc_config=path, oidc_client_secret=CLIENT_SECRET))
    r = browser.get(START, follow_redirects=False)
    assert r.status_code == 502
    assert "cannot be reached just now" in r.text


def test_production_needs_the_client_secret(loaded_sqlite: Engine, settings_for: SettingsFor) -> None:
    ready = {"environment": "production", "signing_secret": "x" * 40, "allowed_hosts": "matching.example"}
    unready = settings_for(methods="oidc", secret=None).model_copy(update=ready)
    with pytest.raises(ProductionConfigError, match="MATCHING_OIDC_CLIENT_SECRET") as caught:
        create_app(unready, engine=loaded_sqlite)
    assert CLIENT_SECRET not in str(caught.value)
