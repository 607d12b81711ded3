"""The model cards, the audit trail and the administration pages: who may see them, what they show against the
API and the library, and their forms' errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.routes.pages.models import inline, render_card
from matching.access import Role
from matching.audit import recent_entries
from matching.paths import PROJECT_ROOT
from tests.api.conftest import app_of

PageClientAs = Callable[..., TestClient]


@pytest.fixture
def bundled_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's own models folder (read only), instead of the tests' empty one."""
    root = PROJECT_ROOT / "models"
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(root))
    return root


def flushed(client: TestClient) -> TestClient:
    """``client``, once its app has written every audit entry it queued."""
    app_of(client).state.audit.flush()
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


# --- model cards -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_the_models(page_client_as: PageClientAs, bundled_models: Path, role: Role) -> None:
    r = page_client_as(role).get("/pages/models")
    assert r.status_code == 200
    assert re.findall(r'data-model="([a-z-]+)"', r.text) == ["stability", "step-down"]
    latest = (bundled_models / "stability" / "LATEST").read_text().strip()
    assert latest in r.text
    assert "Not trusted" in r.text  # the tests' store has not trusted the bundled artefacts


def test_a_model_card_is_rendered_with_its_tables_and_calibration(
    page_client: TestClient, bundled_models: Path
) -> None:
    r = page_client.get("/pages/models/stability")
    assert r.status_code == 200
    for heading in ("What it estimates", "Training data", "How good it is (held-out placements)", "Results by group"):
        assert f">{heading}</h2>" in r.text
    assert ">Calibration</h2>" in r.text
    assert 'id="calibration-stability"' in r.text  # the chart
    rows = re.findall(
        r"<tr class=\"govuk-table__row\"><th scope=\"row\" class=\"govuk-table__header\">[0-9.]+% to", r.text
    )
    assert len(rows) == 10
    assert "rules-only baseline (fit score)" in r.text
    assert "ceiling AUC" in r.text
    assert "<strong>Never an automatic decision.</strong>" in r.text
    assert page_client.get("/pages/models/step-down").status_code == 200
    assert page_client.get("/pages/models/nothing-like-it").status_code == 404


def test_no_models_folder_says_so(page_client: TestClient) -> None:
    r = page_client.get("/pages/models")
    assert r.status_code == 200
    assert r.text.count("Rules only") == 2
    assert page_client.get("/pages/models/stability").status_code == 404


def test_the_card_renderer_escapes_every_character() -> None:
    assert str(inline("<script>alert(1)</script> **bold** `x<y`")) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <strong>bold</strong> <code>x&lt;y</code>"
    )
    title, sections = render_card(
        "# Card `v1`\n\n## A <b>head</b>\n\nText <img src=x onerror=alert(1)>\n\n| a | b |\n|---|---:|\n| <i>1</i> | 2 |\n"
    )
    assert title == "Card v1"
    html = str(sections[0].html)
    assert "<img" not in html
    assert "<i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'govuk-table__cell--numeric">2<' in html
    assert sections[0].heading == "A <b>head</b>"  # escaped by the template


# --- audit trail -------------------------------------------------------------------------------------------------


def test_audit_page_is_for_auditors_only(page_client_as: PageClientAs) -> None:
    for role in Role:
        status = page_client_as(role).get("/pages/audit").status_code
        assert status == (200 if role is Role.AUDITOR else 403), role


def test_audit_page_shows_a_childs_entries_as_the_api_does(
    page_client_as: PageClientAs, client_as: Callable[..., TestClient]
) -> None:
    officer = client_as(Role.PLACEMENT_OFFICER)
    assert officer.get("/v1/children/L001-C00002").status_code == 200
    flushed(officer)
    api = client_as(Role.AUDITOR).get("/v1/audit", params={"child_id": "L001-C00002"}).json()["items"]
    page = page_client_as(Role.AUDITOR).get("/pages/audit", params={"child_id": "L001-C00002"})
    assert page.status_code == 200
    shown = [int(s) for s in re.findall(r'data-seq="(\d+)"', page.text)]
    assert shown
    assert shown == sorted(shown, reverse=True)
    # The page shows the newest 25 (the API the child's whole history, oldest first); the API's own read of the
    # trail, recorded since, may come first on the page.
    newest = sorted((e["seq"] for e in api), reverse=True)[:20]
    assert set(newest) <= set(shown)
    assert "Looked at the API&#39;s /v1/children/{child_id}" in page.text


def test_audit_page_filters_by_user_outcome_and_dates(
    page_client_as: PageClientAs, client_as: Callable[..., TestClient]
) -> None:
    auditor = page_client_as(Role.AUDITOR)
    fostering = client_as(Role.FOSTERING_OFFICER)
    assert fostering.get("/v1/children/L001-C00002").status_code == 403
    flushed(fostering)
    r = auditor.get("/pages/audit", params={"username": "demo.fostering", "outcome": "refused"})
    assert r.status_code == 200
    outcomes = re.findall(r"Refused <span class=\"pm-muted\">\((\w+)\)</span>", r.text)
    assert outcomes
    assert set(outcomes) <= {"refused", "401", "403"}
    api = client_as(Role.AUDITOR).get("/v1/audit", params={"username": "demo.fostering", "limit": 500}).json()
    refused = [e["seq"] for e in api["items"] if e["outcome"] in {"refused", "401", "403"}]
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', r.text)] == refused[:25]
    before = auditor.get("/pages/audit", params={"to_day": "1", "to_month": "1", "to_year": "2000"})
    assert "No entry matches the search" in before.text


def test_audit_page_refuses_a_bad_search_with_an_error_summary(page_client_as: PageClientAs) -> None:
    auditor = page_client_as(Role.AUDITOR)
    r = auditor.get(
        "/pages/audit",
        params={
            "child_id": "<x>",
            "from_day": "31",
            "from_month": "2",
            "from_year": "2026",
            "to_day": "3",
            "outcome": "meh",
        },
    )
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    for anchor in ("#child_id", "#from_day", "#to_month", "#outcome"):  # the first box at fault
        assert f'href="{anchor}"' in r.text
    assert "<x>" not in r.text
    other = auditor.get("/pages/audit", params={"child_id": "L999-C00001"})
    assert other.status_code == 422
    assert "no child with that id in your remit" in other.text


def test_audit_page_verifies_the_chain_as_the_api_does(
    page_client_as: PageClientAs, client_as: Callable[..., TestClient]
) -> None:
    r = page_client_as(Role.AUDITOR).get("/pages/audit", params={"verify": "true"})
    assert r.status_code == 200
    assert "The trail holds" in r.text
    status = client_as(Role.AUDITOR).get("/v1/audit/verify").json()
    assert status["ok"]
    digest = re.search(r'<code id="verify-head">([0-9a-f]{64})</code>', r.text)
    assert digest is not None


# --- users -------------------------------------------------------------------------------------------------------


def test_users_page_is_for_administrators_only(page_client_as: PageClientAs) -> None:
    for role in Role:
        status = page_client_as(role).get("/pages/admin/users").status_code
        assert status == (200 if role is Role.ADMINISTRATOR else 403), role
    officer = page_client_as(Role.PLACEMENT_OFFICER)
    token = csrf_of(officer.get("/pages/home").text)
    refused = officer.post("/pages/admin/users", data={"csrf_token": token, "username": "x.y", "role": "administrator"})
    assert refused.status_code == 403


def test_admin_adds_a_user_who_can_then_sign_in(page_client_as: PageClientAs, make_client) -> None:  # type: ignore[no-untyped-def]
    admin = page_client_as(Role.ADMINISTRATOR)
    page = admin.get("/pages/admin/users")
    assert 'data-user="demo.placement"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "username": "new.officer",
        "display_name": "New Officer",
        "role": "placement_officer",
        "la_codes": "L001",
        "agency_codes": "",
        "password_choice": "generate",
        "password": "",
    }
    added = admin.post("/pages/admin/users", data=form)
    assert added.status_code == 200, added.text
    assert "Account new.officer added" in added.text
    password = re.search(r'<p class="govuk-body pm-once" id="new-password">([^<]+)</p>', added.text)
    assert password is not None
    assert added.headers["cache-control"] == "no-store"
    assert password.group(1) not in admin.get("/pages/admin/users").text  # shown once
    other = make_client()
    sign_in_page = other.get("/pages/sign-in")
    r = other.post(
        "/pages/sign-in",
        data={
            "csrf_token": csrf_of(sign_in_page.text),
            "username": "new.officer",
            "password": password.group(1),
            "next": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert other.get("/pages/waiting").status_code == 200
    again = admin.post("/pages/admin/users", data=form)
    assert again.status_code == 422
    assert "already exists" in again.text
    with app_of(admin).state.engine.connect() as conn:  # audited as the command audits it, by the administrator
        created = recent_entries(conn, username="demo.admin", limit=50)
    assert any(e.action == "user.create" and (e.detail or "").startswith("new.officer:") for e in created)


def test_add_user_form_errors_link_to_each_field(page_client_as: PageClientAs) -> None:
    admin = page_client_as(Role.ADMINISTRATOR)
    token = csrf_of(admin.get("/pages/admin/users").text)
    r = admin.post(
        "/pages/admin/users",
        data={
            "csrf_token": token,
            "username": "Not Valid!",
            "role": "king",
            "la_codes": "L001, bad code",
            "password_choice": "set",
            "password": "short",
        },
    )
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    for anchor in ("#username", "#role-placement_officer", "#la_codes", "#password"):
        assert f'href="{anchor}"' in r.text
    assert "a password needs at least 12 characters".capitalize() in r.text
    assert 'value="short"' not in r.text
    no_token = admin.post("/pages/admin/users", data={"username": "a.b", "role": "auditor"})
    assert no_token.status_code == 403


def test_admin_disables_enables_and_resets(page_client_as: PageClientAs) -> None:
    admin = page_client_as(Role.ADMINISTRATOR)
    token = csrf_of(admin.get("/pages/admin/users").text)
    new = {
        "csrf_token": token,
        "username": "to.change",
        "role": "auditor",
        "la_codes": "L001",
        "password_choice": "generate",
    }
    assert admin.post("/pages/admin/users", data=new).status_code == 200
    off = admin.post("/pages/admin/users/to.change/disable", data={"csrf_token": token})
    assert off.status_code == 200
    assert "Account to.change disabled" in off.text
    assert re.search(r'data-user="to.change">.*?Disabled', off.text, re.S)
    on = admin.post("/pages/admin/users/to.change/enable", data={"csrf_token": token})
    assert "Account to.change enabled" in on.text
    reset = admin.post("/pages/admin/users/to.change/reset", data={"csrf_token": token})
    assert "New password for to.change" in reset.text
    assert 'id="new-password"' in reset.text
    self_off = admin.post("/pages/admin/users/demo.admin/disable", data={"csrf_token": token})
    assert self_off.status_code == 422
    missing = admin.post("/pages/admin/users/nobody.here/enable", data={"csrf_token": token})
    assert missing.status_code == 422
    assert "No user" in missing.text
