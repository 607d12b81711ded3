"""The model cards, the audit trail and the users page as people use them, in Chromium: each job from signing in
to its result, checked against the API's answer where there is one, with axe-core on every page and state."""

from __future__ import annotations

import json
import re

import pytest

from matching.access import Role
from matching.paths import PROJECT_ROOT
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import ACCOUNTS, sign_in_as


def test_model_cards_show_each_model_and_its_calibration(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    root = PROJECT_ROOT / "models"
    monkeypatch.setenv("MATCHING_MODELS_DIR", str(root))  # the server runs in this process
    sign_in_as(session, Role.FOSTERING_OFFICER, "/pages/models")
    page = session.page
    assert page.locator("h1").inner_text() == "Models"
    rows = page.locator("#models tbody tr")
    assert rows.evaluate_all("els => els.map(e => e.dataset.model)") == ["stability", "step-down"]
    latest = (root / "stability" / "LATEST").read_text().strip()
    assert latest in rows.first.inner_text()
    session.check("models")
    page.get_by_role("link", name="Placement stability estimate").click()
    page.wait_for_load_state()
    assert page.url.endswith("/pages/models/stability")
    meta = json.loads((root / "stability" / latest / "metadata.json").read_text())
    table = page.locator("#calibration-table tbody tr")
    assert table.count() == len(meta["bands"])
    first = table.first.inner_text()
    assert f"{meta['bands'][0]['observed'] * 100:.1f}%" in first
    assert (page.locator("svg#calibration-stability > title").text_content() or "").startswith("Calibration")
    assert "Results by group" in page.locator("h2").all_inner_texts()
    session.check("model-card")


def entry_numbers(s: Session) -> list[int]:
    return [int(n) for n in s.page.locator("#entries tbody tr").evaluate_all("els => els.map(e => e.dataset.seq)")]


def test_auditor_searches_a_child_and_verifies_the_trail(session: Session) -> None:
    sign_in_as(session, Role.AUDITOR, "/pages/audit")
    page = session.page
    assert page.locator("h1").inner_text() == "Audit trail"
    session.check("audit")
    page.get_by_label("Child's id").fill("L001-C00002")
    page.get_by_label("Year").first.fill("2000")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    assert "The date from must include a day and a month" in page.locator(".govuk-error-summary").inner_text()
    session.check("audit-error")
    page.get_by_label("Year").first.fill("")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    api = session.api("/v1/audit", child_id="L001-C00002")["items"]
    page.reload()
    shown = entry_numbers(session)
    assert shown == sorted(shown, reverse=True)
    assert {e["seq"] for e in api} <= set(shown)
    assert all("L001-C00002" in t for t in page.locator("#entries tbody tr td:nth-child(5)").all_inner_texts())
    session.check("audit-child")
    page.get_by_role("button", name="Verify the trail").click()
    page.wait_for_load_state()
    status = session.api("/v1/audit/verify")
    assert status["ok"]
    assert "The trail holds" in page.locator("#verify-result").inner_text()
    assert page.locator("#verify-head").inner_text() != ""
    assert page.get_by_label("Child's id").input_value() == "L001-C00002"  # the search is kept
    session.check("audit-verified")


def test_admin_adds_a_user_who_can_then_sign_in(session: Session) -> None:
    sign_in_as(session, Role.ADMINISTRATOR, "/pages/admin/users")
    page = session.page
    assert page.locator("h1").inner_text() == "Users"
    listed = page.locator("#user-table tbody tr").evaluate_all("els => els.map(e => e.dataset.user)")
    assert {a.username for a in ACCOUNTS.values()} <= set(listed)
    session.check("users")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "Enter a username" in summary.inner_text()
    assert "Choose a role" in summary.inner_text()
    session.check("users-error")
    page.get_by_label("Username").fill("browser.auditor")
    page.get_by_label("Their name").fill("Browser Auditor")
    page.get_by_label("Auditor").check()
    page.get_by_label("Authorities in their remit").fill("L001")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_load_state()
    assert "Account browser.auditor added" in page.locator("#done").inner_text()
    password = page.locator("#new-password").inner_text().strip()
    assert len(password) >= 12
    assert "browser.auditor" in page.locator("#user-table").inner_text()
    session.check("users-added")
    session.context.clear_cookies()
    session.sign_in("browser.auditor", password, "/pages/audit")
    assert page.url.endswith("/pages/audit")
    assert "Browser Auditor" in page.locator(".pm-who__text").inner_text()


@pytest.mark.parametrize(
    ("role", "path"), [(Role.PLACEMENT_OFFICER, "/pages/audit"), (Role.AUDITOR, "/pages/admin/users")]
)
def test_other_roles_get_the_forbidden_page(session: Session, role: Role, path: str) -> None:
    sign_in_as(session, role)
    response = session.goto(path)
    assert response.status == 403
    assert session.page.locator("h1").inner_text() == "Not for your role"
    session.check(f"forbidden-{re.sub(r'[^a-z]+', '-', path.strip('/'))}")
