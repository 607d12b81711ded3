"""Making a referral in Chromium, as a placement officer does it: from the child's page to the form, an incomplete
form and its error summary, then the referral made, read on its page in plain words, and closed with a reason;
each state checked by axe-core."""

from __future__ import annotations

from sqlalchemy import Engine

from matching.access import Role
from tests.api.test_referral_records import _free_child_and_day
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as


def test_placement_officer_makes_a_referral_reads_it_and_closes_it(session: Session, browser_store: Engine) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    child, day = _free_child_and_day(browser_store)
    y, m, d = day.split("-")

    session.goto(f"/pages/children/{child}")
    page.get_by_role("link", name=f"Make a referral for {child}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/children/{child}/referrals/new")
    session.check("referral-form")

    # incomplete: no date, no urgency, no type, and a stay that is not a number
    page.get_by_label("Expected stay in days").fill("a week")
    with page.expect_response(f"**/pages/children/{child}/referrals/new") as answer:
        page.get_by_role("button", name="Make the referral").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary").inner_text()
    for message in (
        "Enter date of the referral",
        "Choose when the placement is needed",
        "Choose type of placement",
        "Expected stay in days is not valid",
    ):
        assert message in summary
    session.check("referral-form-error")

    # complete
    page.get_by_label("Day", exact=True).fill(d)
    page.get_by_label("Month", exact=True).fill(m)
    page.get_by_label("Year", exact=True).fill(y)
    page.get_by_label("Within 5 days", exact=True).check()
    page.get_by_label("Short term", exact=True).check()
    page.get_by_label("Expected stay in days").fill("90")
    page.get_by_label("Going missing", exact=True).check()
    page.get_by_label("Wants to stay at their school").check()
    page.get_by_label("The child's wishes and feelings").fill("To stay at her school.")
    page.get_by_role("button", name="Make the referral").click()
    page.wait_for_load_state()
    assert "/pages/referrals/R-" in page.url
    referral = page.url.rsplit("/", 1)[1]
    assert "Open: looking for a placement" in page.locator("#status").inner_text()
    assert "Going missing" in page.locator("#referral").inner_text()
    assert "Made the referral" in page.locator("#history").inner_text()
    assert page.get_by_role("link", name=f"Find matches for {child}").is_visible()
    assert page.get_by_role("link", name="Record the decision on this referral").is_visible()
    assert session.api(f"/v1/referrals/{referral}")["fields"]["expected_duration_days"] == 90
    session.check("referral-open")

    # closed, with why
    page.get_by_label("Closed", exact=True).check()
    page.locator("#reason_code-closed").select_option("no_longer_needed")
    page.get_by_role("button", name="Change the status").click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "Closed"
    history = page.locator("#history").inner_text()
    assert "Status changed from open to closed: a placement is no longer needed" in history
    assert "demo.placement" in history
    assert page.get_by_role("link", name="Edit the referral").count() == 0
    session.check("referral-closed")
