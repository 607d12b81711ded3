"""The placement plan in Chromium, as the named officer (placement manager) works it: a decision recorded on the
best-ranked household, its plan opened from the decision's page, edited with one problem then fixed, agreed; the
printed plan shows no navigation; each page checked by axe-core."""

from __future__ import annotations

from matching.access import Role
from tests.browser.conftest import Session
from tests.browser.test_decision_pages import _waiting_child_with_two_candidates
from tests.browser.test_pages_in_browser import sign_in_as


def test_the_named_officer_opens_edits_and_agrees_the_placement_plan(session: Session) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_MANAGER)
    item, api = _waiting_child_with_two_candidates(session)
    best = api["candidates"][0]

    # a decision on the best-ranked household, through the form
    session.goto(f"/pages/referrals/{item['referral_id']}/decision")
    page.get_by_label(best["household_id"], exact=True).check()
    page.get_by_label("The officer who made the decision").fill("Sam Jones, Head of Placements")
    if best["warnings"]:
        page.get_by_label("Support or training agreed closes the gap the warning names").check()
        for box in page.locator(f"#under-choice-{best['household_id']} input[type=checkbox]").all():
            box.check()
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()
    decision_id = int(page.url.rsplit("/", 1)[1])

    # the plan, from the decision's page
    page.get_by_role("link", name="The placement plan").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/decisions/{decision_id}/plan")
    assert "Draft" in page.locator("#plan-state").inner_text()
    needs = page.locator("#section-needs").inner_text()
    for need in best["needs_met"]:
        assert need["label"] in needs
    session.check("plan-draft")
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation, .govuk-footer").first.is_visible()
    assert not page.get_by_role("button", name="Agree this plan").is_visible()
    assert page.locator("#section-needs").is_visible()
    page.emulate_media(media="screen")

    # edit: one section too long, then fixed
    page.get_by_role("link", name="Edit the placement plan").click()
    page.wait_for_load_state()
    page.get_by_label("Contact with family and friends").fill("x" * 8001)
    with page.expect_response(f"**/pages/decisions/{decision_id}/plan/edit") as answer:
        page.get_by_role("button", name="Save the plan").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    session.check("plan-form-error")
    page.locator(".govuk-error-summary a").first.click()
    assert page.evaluate("document.activeElement.id") == "contact"
    page.get_by_label("Contact with family and friends").fill("Weekly with mum at the family centre, supervised.")
    page.get_by_role("button", name="Save the plan").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/decisions/{decision_id}/plan")
    assert "Weekly with mum" in page.locator("#section-contact").inner_text()

    # agreed: final
    page.get_by_role("button", name="Agree this plan").click()
    page.wait_for_load_state()
    assert "Agreed" in page.locator("#plan-state").inner_text()
    assert page.get_by_role("link", name="Edit the placement plan").count() == 0
    assert [r["state"] for r in session.api(f"/v1/decisions/{decision_id}/plan/versions")] == ["draft", "agreed"]
    session.check("plan-agreed")
