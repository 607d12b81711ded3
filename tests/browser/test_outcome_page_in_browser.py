"""The outcome page in Chromium: a placement officer records that the placement a decision chose started, then
ended, after a first try with nothing filled in; axe-core finds nothing on the form, its errors, or the
records."""

from __future__ import annotations

from sqlalchemy import Engine

from matching.access import Actor, Role
from matching.accounts.users import get_user
from matching.decisions import DecisionDraft, record_decision
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as
from tests.decisions.test_decisions import AT, _snapshot


def _decision(engine: Engine) -> int:
    snap = _snapshot(engine)
    best = snap.candidates[0]
    draft = DecisionDraft(
        "household_chosen",
        "A. Officer, Head of Placements",
        best["household_id"],
        reason_codes=("support_agreed",) if best["warnings"] else (),
        accepted_warnings=tuple(w["code"] for w in best["warnings"]),
    )
    with engine.begin() as conn:
        user = get_user(conn, "demo.placement")
        assert user is not None
        actor = Actor(user.id, user.username, Role.PLACEMENT_OFFICER.value)
        return record_decision(conn, draft, snap, actor=actor, now=AT).decision_id


def test_a_placement_officer_records_a_start_then_an_end(session: Session, browser_store: Engine) -> None:
    decision_id = _decision(browser_store)
    url = f"/pages/decisions/{decision_id}/outcome"
    sign_in_as(session, Role.PLACEMENT_OFFICER, url)
    assert session.page.url.endswith(url)
    session.check("outcome-form")
    session.page.get_by_role("button", name="Record what happened").click()
    session.page.wait_for_load_state()
    assert session.page.title().startswith("Error: ")
    assert "Choose what happened" in session.page.locator(".govuk-error-summary").inner_text()
    session.check("outcome-form-error")

    session.page.get_by_label("The placement started").check()
    session.page.get_by_label("Day").fill("2")
    session.page.get_by_label("Month").fill("4")
    session.page.get_by_label("Year").fill("2026")
    session.page.get_by_role("button", name="Record what happened").click()
    session.page.wait_for_load_state()
    assert session.page.url.endswith(f"/pages/decisions/{decision_id}")  # the decision's page (another job's)
    placement = session.api(f"/v1/decisions/{decision_id}/outcomes")
    assert (placement["state"], placement["started_on"]) == ("started", "2026-04-02")

    session.goto(url)
    assert "since 2 April 2026" in session.page.locator("#placement-state").inner_text()
    session.page.get_by_label("The placement ended").check()
    session.page.get_by_label("If it ended: why").select_option("E4A")
    session.page.get_by_label("Day").fill("20")
    session.page.get_by_label("Month").fill("4")
    session.page.get_by_label("Year").fill("2026")
    session.check("outcome-form-ended-chosen")
    session.page.get_by_role("button", name="Record what happened").click()
    session.page.wait_for_load_state()
    placement = session.api(f"/v1/decisions/{decision_id}/outcomes")
    assert (placement["state"], placement["ended_on"], placement["reason"]) == ("ended", "2026-04-20", "E4A")
    session.goto(url)
    assert session.page.locator("#outcomes tbody tr").count() == 2
    session.check("outcome-form-recorded")
