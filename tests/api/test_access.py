"""Signing in, roles and remit at the API: 401 and 403, the pages' session and CSRF, the audit of each request,
jobs that belong to their starter, and the production start-up check."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.settings import Settings
from matching.access import Role
from matching.accounts.production import DEFAULT_SIGNING_SECRET, ProductionConfigError
from matching.audit import AuditUnavailableError, StoredEntry, flush_every_writer, recent_entries
from tests.api.conftest import app_of, sign_in

ON = "2026-04-01"
Factory = Callable[..., TestClient]


def audit_entries(engine: Engine, since: int = 0) -> list[StoredEntry]:
    """The trail's entries after ``since`` (oldest first), once every app in this process has written what it
    queued (the entry sought may be another client's: a page client's, beside the API client checking it)."""
    flush_every_writer(engine)
    with engine.connect() as conn:
        return [e for e in reversed(recent_entries(conn, limit=500)) if e.seq > since]


def last_seq(engine: Engine) -> int:
    """The trail's last sequence number, once every app in this process has written what it queued (so no
    entry queued before the call can land after it and be counted as the caller's)."""
    flush_every_writer(engine)
    with engine.connect() as conn:
        found = recent_entries(conn, limit=1)
    return found[0].seq if found else 0


def test_no_credentials_is_401_with_the_bearer_challenge(make_client: Factory) -> None:
    anonymous = make_client()
    for path in ("/v1/children", "/v1/children/L001-C00002/matches", "/v1/step-down", "/v1/audit"):
        r = anonymous.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.post("/v1/allocations", json={}).status_code == 401
    bad = make_client(token="pm_not-a-real-token")
    assert bad.get("/v1/children").status_code == 401
    basic = make_client()
    assert basic.get("/v1/children", headers={"Authorization": "Basic YTpi"}).status_code == 401


def test_health_stays_open_and_says_nothing_of_the_data(make_client: Factory) -> None:
    body = make_client().get("/health").json()
    assert set(body) == {"status", "database", "version"}


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.FOSTERING_OFFICER, "/v1/children"),
        (Role.AUDITOR, "/v1/children/L001-C00002"),
        (Role.ADMINISTRATOR, "/v1/step-down"),
        (Role.COMMISSIONING_LEAD, "/v1/children/L001-C00002/matches"),
        (Role.PLACEMENT_OFFICER, "/v1/audit"),
        (Role.PLACEMENT_OFFICER, "/v1/sufficiency/runs/x"),
    ],
)
def test_a_role_without_the_permission_is_403(client_as: Factory, role: Role, path: str) -> None:
    r = client_as(role).get(path)
    assert r.status_code == 403
    assert "may not" in r.json()["detail"]


def test_the_fostering_officer_sees_households_but_no_child(client_as: Factory) -> None:
    fostering = client_as(Role.FOSTERING_OFFICER)
    page = fostering.get("/v1/households", params={"limit": 500}).json()
    assert page["items"]
    assert {h["agency_code"] for h in page["items"]} == {"LA-L001"}
    assert all(h["terms"]["connected_child_ids"] == [] for h in page["items"])  # no authority in their remit


def test_connected_children_are_named_only_in_remit(client: TestClient, scoped_client: TestClient) -> None:
    mine = client.get("/v1/households", params={"limit": 500}).json()["items"]
    named = {c for h in mine for c in h["terms"]["connected_child_ids"]}
    assert named
    assert all(c.startswith("L001-") for c in named)
    other = scoped_client.get("/v1/households", params={"limit": 500}).json()["items"]
    assert other
    assert all(h["terms"]["connected_child_ids"] == [] for h in other)


def test_requests_are_audited_with_the_children_touched(client: TestClient, loaded_sqlite: Engine) -> None:
    since = last_seq(loaded_sqlite)
    r = client.get("/v1/children/L001-C00002/matches", params={"on": ON}, headers={"X-Purpose": "finding a home"})
    assert r.status_code == 200
    assert client.get("/v1/children/NOPE-1").status_code == 404
    listed = client.get("/v1/children", params={"limit": 3}).json()["items"]
    entries = audit_entries(loaded_sqlite, since)
    by_action = {e.action: e for e in entries}
    match = by_action["GET /v1/children/{child_id}/matches"]
    assert (match.username, match.role, match.outcome) == ("demo.placement", "placement_officer", "200")
    assert "L001-C00002" in match.child_ids
    assert match.purpose == "finding a home"
    missing = by_action["GET /v1/children/{child_id}"]
    assert (missing.outcome, missing.child_ids) == ("404", ("NOPE-1",))
    assert set(by_action["GET /v1/children"].child_ids) == {c["child_id"] for c in listed}


def test_refusals_are_audited(make_client: Factory, client_as: Factory, loaded_sqlite: Engine) -> None:
    since = last_seq(loaded_sqlite)
    anonymous = make_client()
    assert anonymous.get("/v1/children/L001-C00002").status_code == 401
    auditor = client_as(Role.AUDITOR)
    assert auditor.get("/v1/children/L001-C00002/matches").status_code == 403
    entries = audit_entries(loaded_sqlite, since)
    outcomes = {(e.username, e.outcome, e.child_ids) for e in entries}
    assert ("anonymous", "401", ("L001-C00002",)) in outcomes
    assert ("demo.auditor", "403", ("L001-C00002",)) in outcomes


def test_no_audit_no_answer(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = app_of(client).state.audit

    def full(*_a: Any, **_k: Any) -> None:
        raise AuditUnavailableError("the audit trail is not keeping up")

    monkeypatch.setattr(writer, "submit", full)
    r = client.get("/v1/children/L001-C00002")
    assert r.status_code == 503
    assert "L001" not in r.text
    assert client.get("/health").status_code == 200  # not audited


def test_the_auditor_reads_a_childs_history_and_the_chain(
    client: TestClient, client_as: Factory, loaded_sqlite: Engine
) -> None:
    assert client.get("/v1/children/L001-C00005", headers={"X-Purpose": "review"}).status_code == 200
    app_of(client).state.audit.flush()
    auditor = client_as(Role.AUDITOR)
    history = auditor.get("/v1/audit", params={"child_id": "L001-C00005"}).json()["items"]
    assert any(e["username"] == "demo.placement" and e["purpose"] == "review" for e in history)
    assert auditor.get("/v1/audit", params={"child_id": "L999-C00001"}).status_code == 404  # outside remit
    latest = auditor.get("/v1/audit", params={"limit": 50}).json()["items"]
    assert latest
    assert [e["seq"] for e in latest] == sorted((e["seq"] for e in latest), reverse=True)
    status = auditor.get("/v1/audit/verify").json()
    assert status["ok"] is True
    assert status["entries"] >= len(latest)
    assert client.get("/v1/audit/verify").status_code == 403


def test_an_auditor_with_another_remit_sees_the_children_counted_not_named(
    client: TestClient, make_client: Factory, loaded_sqlite: Engine
) -> None:
    from matching.access import Actor, Remit
    from matching.accounts.tokens import issue_token
    from matching.accounts.users import create_user, get_user

    assert client.get("/v1/children/L001-C00007").status_code == 200
    app_of(client).state.audit.flush()
    with loaded_sqlite.begin() as conn:
        if get_user(conn, "auditor.l999") is None:
            create_user(
                conn,
                username="auditor.l999",
                role=Role.AUDITOR,
                remit=Remit(frozenset({"L999"})),
                actor=Actor.system("tests"),
                password=None,
            )
        token = issue_token(conn, "auditor.l999", name="tests", actor=Actor.system("tests")).token
    other = make_client(token=token)
    latest = other.get("/v1/audit", params={"limit": 200}).json()["items"]
    assert latest
    assert all(e["child_ids"] == [] for e in latest)
    assert any(e["child_ids_withheld"] > 0 for e in latest)
    assert "L001-C" not in str(latest)


def test_allocation_in_remit_only(client_as: Factory) -> None:
    lead = client_as(Role.COMMISSIONING_LEAD)
    assert lead.post("/v1/allocations", json={"la_code": "L002"}).status_code == 403
    r = lead.post("/v1/allocations", json={"placement_date": ON, "time_limit_seconds": 5})
    assert r.status_code == 200  # the caller's whole remit: L001
    assert all(a["child_id"].startswith("L001-") for a in r.json()["assignments"])
    elsewhere = client_as("elsewhere")
    assert elsewhere.post("/v1/allocations", json={}).status_code == 403  # a placement officer


def _wait(client: TestClient, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job = client.get(location).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_jobs_belong_to_their_starter_and_their_kind(
    client_as: Factory, loaded_sqlite: Engine, tokens: dict[Role, str], make_client: Factory
) -> None:
    from matching.access import Actor, Remit
    from matching.accounts.tokens import issue_token
    from matching.accounts.users import create_user, get_user

    lead = client_as(Role.COMMISSIONING_LEAD, Settings(allocation_direct_max_children=0))
    r = lead.post("/v1/allocations", json={"placement_date": ON, "time_limit_seconds": 2})
    assert r.status_code == 202
    location = r.headers["location"]
    job_id = location.rsplit("/", 1)[1]
    job = _wait(lead, location)
    assert job["status"] == "done", job
    assert job["started_by"] == "demo.commissioning"
    assert job["area"] == ["L001"]
    assert lead.get(f"/v1/sufficiency/runs/{job_id}").status_code == 404  # not a sufficiency run
    with loaded_sqlite.begin() as conn:
        if get_user(conn, "lead.two") is None:
            create_user(
                conn,
                username="lead.two",
                role=Role.COMMISSIONING_LEAD,
                remit=Remit(frozenset({"L001"}), frozenset({"LA-L001"})),
                actor=Actor.system("tests"),
                password=None,
            )
        token = issue_token(conn, "lead.two", name="tests", actor=Actor.system("tests")).token
    # Another lead of the same area, on the same app: not theirs.
    lead.headers["Authorization"] = f"Bearer {token}"
    assert lead.get(location).status_code == 404
    lead.headers["Authorization"] = f"Bearer {tokens[Role.COMMISSIONING_LEAD]}"
    assert lead.get(location).status_code == 200


def test_sufficiency_area_outside_remit_is_refused(client_as: Factory) -> None:
    lead = client_as(Role.COMMISSIONING_LEAD)
    scenario = {"name": "t", "area": {"las": ["L001"]}, "simulations": 2, "horizon_months": 2}
    assert lead.post("/v1/sufficiency/runs", json=scenario).status_code == 202
    elsewhere = client_as("elsewhere")
    assert elsewhere.post("/v1/sufficiency/runs", json=scenario).status_code == 403  # not a lead


def test_adhoc_referral_outside_remit_is_refused(client: TestClient) -> None:
    from tests.api.test_matches import referral

    other_la = referral()
    other_la["child"]["la_code"] = "L999"  # no such authority: a 422 naming the field (issue 18, item 6)
    r = client.post("/v1/matches", json=other_la)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "child", "la_code"]
    for where, path in (
        ("child", ["body", "child", "child_id"]),
        ("sibling", ["body", "siblings_to_place_with", 0, "child_id"]),
    ):
        unknown = referral()
        if where == "child":
            unknown["child"]["child_id"] = "NOPE"
        else:
            unknown["siblings_to_place_with"] = [{"child_id": "NOPE", "birth_month": "2015-01", "sex": "M"}]
        r = client.post("/v1/matches", json=unknown)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == path
        assert "NOPE" not in r.text
    borrowed = referral()
    borrowed["child"]["child_id"] = "L001-C00002"  # a stored child in remit: allowed, and audited
    assert client.post("/v1/matches", json=borrowed).status_code == 200


def test_pages_need_a_session_and_redirect_to_sign_in(make_client: Factory, client: TestClient) -> None:
    anonymous = make_client()
    for path in ("/pages/waiting", "/pages/home", "/pages/step-down", "/pages/children/L001-C00002/matches"):
        r = anonymous.get(path, params={"on": ON}, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/pages/sign-in?next=" + path)
    # A bearer token does not open a page: pages are for people signed in.
    assert client.get("/pages/waiting", follow_redirects=False).status_code == 303


def test_sign_in_sets_a_safe_cookie_and_pages_show_who_is_signed_in(make_client: Factory) -> None:
    browser = make_client()
    form = browser.get("/pages/sign-in", params={"next": "/pages/waiting"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = browser.post(
        "/pages/sign-in",
        data={
            "csrf_token": token,
            "username": "demo.placement",
            "password": "demo-placement-officer",
            "next": "/pages/waiting",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/pages/waiting"
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("pm_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on the development host
    page = browser.get("/pages/waiting", params={"on": ON})
    assert page.status_code == 200
    assert "Demo placement officer" in page.text
    assert "authorities L001" in page.text
    step_down = browser.get("/pages/step-down")
    assert "Signed in as" in step_down.text


def test_sign_in_refusals(make_client: Factory) -> None:
    browser = make_client()
    no_token = browser.post("/pages/sign-in", data={"username": "demo.placement", "password": "demo-placement-officer"})
    assert no_token.status_code == 400  # no CSRF token
    form = browser.get("/pages/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = browser.post("/pages/sign-in", data={"csrf_token": token, "username": "demo.placement", "password": "x"})
    assert wrong.status_code == 401
    assert "The username or password is not right." in wrong.text
    assert "pm_session" not in browser.cookies


def test_an_open_redirect_is_not_followed(make_client: Factory) -> None:
    browser = make_client()
    sign_in(browser, Role.PLACEMENT_OFFICER, "//evil.example/x")
    assert browser.get("/pages/home").status_code == 200


def test_a_page_outside_the_role_is_403_and_sign_out_needs_the_token(page_client_as: Factory) -> None:
    fostering = page_client_as(Role.FOSTERING_OFFICER)
    r = fostering.get("/pages/waiting")
    assert r.status_code == 403
    assert "Demo fostering officer" in r.text
    home = fostering.get("/pages/home")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    assert fostering.post("/pages/sign-out", data={"csrf_token": "forged"}).status_code == 403
    out = fostering.post("/pages/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert fostering.get("/pages/home", follow_redirects=False).status_code == 303  # signed out


def test_a_cookie_signed_in_api_change_needs_the_csrf_header(page_client: TestClient) -> None:
    from tests.api.test_matches import referral

    # Reading with the session cookie works; changing needs the session's CSRF token in a header.
    assert page_client.get("/v1/children/L001-C00002").status_code == 200
    assert page_client.post("/v1/matches", json=referral()).status_code == 403
    home = page_client.get("/pages/home")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    assert page_client.post("/v1/matches", json=referral(), headers={"X-CSRF-Token": token}).status_code == 200


def test_unknown_hosts_are_refused(make_client: Factory) -> None:
    r = make_client().get("/health", headers={"host": "evil.example"})
    assert r.status_code == 400


def test_production_refuses_to_start_unless_configured(loaded_sqlite: Engine) -> None:
    with pytest.raises(ProductionConfigError) as refused:
        create_app(Settings(environment="production"), engine=loaded_sqlite)
    message = str(refused.value)
    assert "\n" not in message
    assert "signing secret" in message
    assert "allowed hosts" in message
    assert "demonstration accounts" in message  # the test store holds them
    assert DEFAULT_SIGNING_SECRET not in message


def test_production_settings_that_pass(tmp_path: Any) -> None:
    from matching.store.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    settings = Settings(
        environment="production",
        signing_secret="p" * 40,
        allowed_hosts="matching.example.gov.uk",
        sign_in_methods="password",
    )
    app = create_app(settings, engine=engine)
    with TestClient(app, base_url="https://matching.example.gov.uk") as browser:
        assert browser.get("/health").status_code == 200
        form = browser.get("/pages/sign-in")
        cookie = next(v for k, v in form.headers.multi_items() if k == "set-cookie")
        assert cookie.startswith("__Host-pm_sign_in=")
        assert "Secure" in cookie
    with pytest.raises(ProductionConfigError, match="MATCHING_OIDC_CONFIG"):
        create_app(settings.model_copy(update={"sign_in_methods": "oidc"}), engine=engine)
    engine.dispose()


def test_the_administrator_exports_a_childs_records_for_subject_access(
    client: TestClient, client_as: Factory, loaded_sqlite: Engine
) -> None:
    import io
    import json
    import zipfile

    assert client.get("/v1/children", params={"limit": 5}).status_code == 200  # an entry naming five children
    admin = client_as(Role.ADMINISTRATOR)
    r = admin.post("/v1/children/L001-C00002/export", headers={"X-Purpose": "SAR 2026/17"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert "subject-access-L001-C00002.zip" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        document = json.loads(archive.read("child.json"))
    assert document["records"]["child"][0]["child_id"] == "L001-C00002"
    assert document["purpose"] == "SAR 2026/17"
    assert all(e["child_ids"] == ["L001-C00002"] for e in document["audit"])
    assert any(e["other_children"] > 0 for e in document["audit"])
    assert admin.post("/v1/children/L999-C00001/export").status_code == 404
    assert admin.get("/v1/children/L001-C00002").status_code == 403  # exporting is not browsing
    assert client.post("/v1/children/L001-C00002/export").status_code == 403
    entries = audit_entries(loaded_sqlite)
    assert any(e.action == "child.export" and e.purpose == "SAR 2026/17" for e in entries)


def test_a_single_sign_on_bearer_token_when_configured(loaded_sqlite: Engine, tmp_path: Any) -> None:
    import json

    from tests.accounts.test_oidc import AUDIENCE, OFFICERS, Provider

    provider = Provider()
    try:
        config = tmp_path / "oidc.json"
        config.write_text(
            json.dumps(
                {
                    "issuer": provider.issuer,
                    "audience": [AUDIENCE],
                    "subject_claim": "oid",
                    "provision": True,
                    "roles": {OFFICERS: "placement_officer"},
                    "remit": {"grp-ashbury": {"la": ["L001"], "agencies": ["LA-L001"]}},
                }
            )
        )
        settings = Settings(sign_in_methods="password,oidc", oidc_config=config)
        with TestClient(create_app(settings, engine=loaded_sqlite)) as api:
            ok = api.get("/v1/children/L001-C00002", headers={"Authorization": f"Bearer {provider.token()}"})
            assert ok.status_code == 200
            outsider = provider.token(groups=["grp-unrelated"], oid="someone-else")
            assert api.get("/v1/children", headers={"Authorization": f"Bearer {outsider}"}).status_code == 401
            expired = provider.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
            assert api.get("/v1/children", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        with TestClient(create_app(Settings(), engine=loaded_sqlite)) as api:  # not configured: not accepted
            r = api.get("/v1/children", headers={"Authorization": f"Bearer {provider.token()}"})
            assert r.status_code == 401
    finally:
        provider.close()
