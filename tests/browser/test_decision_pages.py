"""Recording a named officer's decision in Chromium, as a placement officer does it: from a waiting child's ranked
households to the form, an incomplete form and its error summary, then the second-ranked household chosen with a
reason, and the decision's page, whose shown ranking is the stored snapshot's; each page checked by axe-core."""

from __future__ import annotations

from typing import Any

from matching.access import Role
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as


def _waiting_child_with_two_candidates(s: Session) -> tuple[dict[str, Any], dict[str, Any]]:
    for item in s.api("/v1/referrals", limit=50)["items"]:
        api = s.api(f"/v1/children/{item['child_id']}/matches", top=25)
        if len(api["candidates"]) >= 2 and api["referral_id"] == item["referral_id"]:
            return item, api
    raise AssertionError("no waiting child with two candidates on their own referral")


def _rows(s: Session, table: str) -> list[tuple[str, int, float]]:
    found = s.page.locator(f"#{table} tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.household, Number(r.dataset.rank), Number(r.dataset.score)])"
    )
    return [(h, int(r), float(score)) for h, r, score in found]


def test_placement_officer_records_a_decision_and_reads_what_was_shown(session: Session) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    item, api = _waiting_child_with_two_candidates(session)
    child, referral = item["child_id"], item["referral_id"]

    # the child's ranked households, then the link to record the decision
    session.goto(f"/pages/children/{child}/matches")
    page.get_by_role("link", name=f"Record the decision on referral {referral}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/referrals/{referral}/decision")
    assert page.title().startswith(f"Record the decision on referral {referral}")
    assert _rows(session, "ranking-now-table") == [
        (c["household_id"], c["rank"], c["score"]) for c in api["candidates"]
    ]
    assert "The service places no child." in page.locator("#what-this-records").inner_text()
    # every choice's own questions are on the form, labelled, with or without JavaScript
    assert page.locator("#under-choice-none").is_visible()
    assert page.locator("#under-choice-other").is_visible()
    session.check("decision-form")

    # incomplete: the second-ranked household, no officer and no reasons
    second = api["candidates"][1]
    page.get_by_label(second["household_id"], exact=True).check()
    with page.expect_response(f"**/pages/referrals/{referral}/decision") as answer:
        page.get_by_role("button", name="Record the decision").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "Enter the name and job title of the officer who made the decision" in summary.inner_text()
    assert "Give the reasons: the household was ranked 2, not first" in summary.inner_text()
    assert page.get_by_label(second["household_id"], exact=True).is_checked()
    session.check("decision-form-error")
    summary.get_by_role("link", name="Enter the name and job title of the officer who made the decision").click()
    assert page.evaluate("document.activeElement.id") == "named_officer"

    # complete: the officer, a reason, and each warning about the household accepted
    page.get_by_label("The officer who made the decision").fill("Sam Jones, Head of Placements")
    page.get_by_label("Keeps the child at their school").check()
    page.get_by_label("The reasons in the officer's words").fill("She can stay at her school.")
    for box in page.locator(f"#under-choice-{second['household_id']} input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()
    assert "/pages/decisions/" in page.url
    decision_id = int(page.url.rsplit("/", 1)[1])
    recorded = session.api(f"/v1/referrals/{referral}/decisions")[-1]
    assert recorded["id"] == decision_id
    assert recorded["household_id"] == second["household_id"]
    assert recorded["reason_codes"] == ["school_stability"]
    assert sorted(recorded["accepted_warnings"]) == sorted(w["code"] for w in second["warnings"])

    # the decision's page: what was decided, and what was shown (the stored snapshot, verified)
    assert page.locator("#decision-officer").inner_text().strip() == "Sam Jones, Head of Placements"
    assert page.locator("#decision-departs").inner_text().strip() == "Yes"
    sha = page.locator("#snapshot-sha256").inner_text().strip()
    assert sha == recorded["snapshot_sha256"]
    assert page.locator("#snapshot-verified").inner_text().strip() == "Verified"
    snapshot = session.api(f"/v1/decisions/snapshots/{sha}")
    assert snapshot["verified"] is True
    shown = snapshot["payload"]["ranking"]["candidates"]
    assert _rows(session, "shown-table") == [(c["household_id"], c["rank"], c["score"]) for c in shown]
    assert page.locator("#snapshot-weights").inner_text().strip() == str(snapshot["payload"]["fit_config_version"])
    assert page.locator("#snapshot-model").inner_text().strip() == snapshot["payload"]["ranking"]["model"]
    session.check("decision-page")
    # printed: no navigation, the record and what was shown stay
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation").is_visible()
    assert page.locator("#decision").is_visible()
    assert page.locator("#shown-table").is_visible()
    page.emulate_media(media="screen")

    # the child's page links to it
    session.goto(f"/pages/children/{child}")
    page.get_by_role("link", name=f"Decision {decision_id} on referral {referral}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/decisions/{decision_id}")
