"""The placement officer's job in Chromium, as a person does it: sign in, find a waiting child, read the ranked
households, compare two side by side, download the shortlist, print it, change the date with the date form, and
read a child's step-down readiness; each page checked against the API's answer and by axe-core."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from matching.access import Role
from matching.fit_config import FACTORS
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as


def _waiting_child_with_candidates(s: Session, at_least: int = 2) -> tuple[str, dict[str, Any]]:
    for item in s.api("/v1/referrals", limit=50)["items"]:
        api = s.api(f"/v1/children/{item['child_id']}/matches", top=10)
        if len(api["candidates"]) >= at_least:
            return item["child_id"], api
    raise AssertionError("no waiting child with enough candidates")


def _open(s: Session) -> None:
    s.page.wait_for_load_state()


def test_placement_officer_finds_a_child_compares_candidates_and_downloads_the_shortlist(
    session: Session, tmp_path: Path
) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    child, api = _waiting_child_with_candidates(session)
    # find the child on the waiting list by their id, then open their matches
    page.get_by_label("Child's id (or its start)").fill(child)
    page.get_by_role("button", name="Apply").click()
    _open(session)
    page.get_by_role("link", name=f"Matches for {child}").click()
    _open(session)
    assert page.url.endswith(f"/pages/children/{child}/matches")
    about = session.api(f"/v1/children/{child}")
    assert page.locator("#summary-age").inner_text().startswith(f"{about['age']} on ")
    shown = page.locator("li.pm-candidate").evaluate_all("els => els.map(e => e.dataset.household)")
    assert shown == [c["household_id"] for c in api["candidates"]]
    assert page.get_by_role("button", name="Print this shortlist").is_visible()  # print.js shows it
    session.check("matches-shortlist")

    # compare the first and the second candidates
    chosen = api["candidates"][:2]
    for c in chosen:
        page.get_by_label(f"Compare {c['household_id']}", exact=True).check()
    page.get_by_role("button", name="Compare selected").click()
    _open(session)
    assert "/matches/compare?" in page.url
    assert page.locator("h1").inner_text().endswith("Compare 2 households")
    heads = page.locator("#compare thead th[data-household]").evaluate_all("els => els.map(e => e.dataset.household)")
    assert heads == [c["household_id"] for c in chosen]
    scores = [t.strip() for t in page.locator("#row-score .pm-compare-score").all_inner_texts()]
    assert scores == [f"{c['score']:.1f}" for c in chosen]
    for name in FACTORS:
        cells = [t.strip() for t in page.locator(f"#row-{name} .pm-contribution").all_inner_texts()]
        assert cells == [f"{f['contribution']:.1f}" for c in chosen for f in c["factors"] if f["name"] == name]
    vacancies = [t.strip() for t in page.locator("#row-vacancies td").all_inner_texts()]
    assert vacancies == [str(c["vacancies"]) for c in chosen]
    session.check("matches-compare")
    # printed: no navigation, no buttons, the table stays
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation").is_visible()
    assert not page.get_by_role("button", name="Print this comparison").is_visible()
    assert page.locator("#compare").is_visible()
    page.screenshot(path=str(tmp_path / "print.png"), full_page=True)
    page.emulate_media(media="screen")

    # back to the shortlist, and download it as CSV
    page.get_by_role("link", name="Back to the ranked households").first.click()
    _open(session)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this shortlist as a spreadsheet (CSV)").click()
    saved = tmp_path / "shortlist.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith(f"matches-{child}-")
    with saved.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["rank"]), r["household"], float(r["score"])) for r in rows] == [
        (c["rank"], c["household_id"], c["score"]) for c in api["candidates"]
    ]
    for r, c in zip(rows, api["candidates"], strict=True):
        assert {n: float(r[n]) for n in FACTORS} == {f["name"]: f["contribution"] for f in c["factors"]}
        assert int(r["warnings"]) == len(c["warnings"])

    # printing the shortlist hides the navigation, forms and checkboxes
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation").is_visible()
    assert not page.locator("#compare-form .govuk-checkboxes").first.is_visible()
    assert not page.locator(".pm-show-as-on").is_visible()
    assert page.locator("li.pm-candidate").first.is_visible()
    page.emulate_media(media="screen")


def test_comparing_one_household_says_what_is_wrong(session: Session) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    child, api = _waiting_child_with_candidates(session)
    session.goto(f"/pages/children/{child}/matches")
    page.get_by_label(f"Compare {api['candidates'][1]['household_id']}", exact=True).check()
    response_wait = page.expect_response(re.compile(r"/matches/compare\?"))
    with response_wait as answer:
        page.get_by_role("button", name="Compare selected").click()
    assert answer.value.status == 422
    _open(session)
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "Select two or three households to compare" in summary.inner_text()
    assert page.get_by_label(f"Compare {api['candidates'][1]['household_id']}", exact=True).is_checked()
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == f"compare-{api['candidates'][0]['household_id']}"
    session.check("matches-compare-error")


def test_show_as_on_changes_the_date_and_refuses_a_date_that_is_not_real(session: Session) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    child, _ = _waiting_child_with_candidates(session)
    session.goto(f"/pages/children/{child}/matches?top=5")
    page.get_by_text("Show as on another date").click()
    assert page.get_by_label("Day").is_visible()
    session.check("matches-date-form")
    page.get_by_label("Day").fill("15")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Change date").click()
    _open(session)
    assert page.url.endswith(f"/pages/children/{child}/matches?top=5&on=2026-03-15")
    api = session.api(f"/v1/children/{child}/matches", top=5, on="2026-03-15")
    shown = page.locator("li.pm-candidate").evaluate_all("els => els.map(e => e.dataset.household)")
    assert shown == [c["household_id"] for c in api["candidates"]]
    assert "placement date 2026-03-15" in page.locator("main").inner_text()
    # a date that is not real
    page.get_by_text("Show as on another date").click()
    page.get_by_label("Day").fill("30")
    page.get_by_label("Month").fill("2")
    page.get_by_role("button", name="Change date").click()
    _open(session)
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "The date must be a real date" in summary.inner_text()
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "on-day"
    session.check("show-as-on-error")
    # a date outside the store's records: the API's words
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("1990")
    page.get_by_role("button", name="Change date").click()
    _open(session)
    assert (
        "the store's records widened by MATCHING_DATE_WINDOW_DAYS" in page.locator(".govuk-error-summary").inner_text()
    )
    # corrected, it goes back to the page it came from
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Change date").click()
    _open(session)
    assert page.url.endswith(f"/pages/children/{child}/matches?top=5&on=2026-01-01")
    # the other dated pages carry the same form
    for path in ("/pages/waiting", f"/pages/children/{child}", "/pages/step-down"):
        session.goto(path)
        page.get_by_text("Show as on another date").click()
        page.get_by_label("Day").fill("2")
        page.get_by_label("Month").fill("3")
        page.get_by_label("Year").fill("2026")
        page.get_by_role("button", name="Change date").click()
        _open(session)
        assert page.url.endswith("on=2026-03-02"), path


def test_step_down_child_page_shows_the_apis_readiness(session: Session) -> None:
    page = session.page
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/step-down")
    cohort = session.api("/v1/step-down")["children"]
    child = next((c for c in cohort if c["candidates"]), cohort[0])["child_id"]
    page.get_by_role("link", name=f"Readiness of {child}").click()
    _open(session)
    assert page.url.endswith(f"/pages/children/{child}/step-down")
    api = session.api(f"/v1/children/{child}/step-down")
    assert page.locator("#stage").get_attribute("data-stage") == api["stage"]
    rows = page.locator("#indicators tbody tr")
    assert rows.evaluate_all("els => els.map(e => [e.dataset.indicator, e.dataset.status])") == [
        [i["name"], i["status"]] for i in api["indicators"]
    ]
    for n, i in enumerate(api["indicators"]):
        assert i["value"] in rows.nth(n).inner_text()
    for c in api["candidates"]:
        if c["household_id"]:
            assert page.get_by_role("link", name=c["household_id"], exact=True).count() == 1
    assert f"£{api['weekly_cost_now']:,} a week" in page.locator("#cost-now").inner_text()
    if page.locator("svg.pm-chart").count():
        assert page.locator("#trend tbody tr").count() > 0  # the charts' numbers as a table
    session.check("step-down-child")
    # and from the child's own page
    session.goto(f"/pages/children/{child}")
    page.get_by_role("link", name=re.compile(f"^Step-down readiness of {child}")).click()
    _open(session)
    assert page.url.endswith(f"/pages/children/{child}/step-down")


def test_step_down_child_page_is_not_for_a_fostering_officer(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    child = session.api("/v1/step-down")["children"][0]["child_id"]
    session.context.clear_cookies()
    sign_in_as(session, Role.FOSTERING_OFFICER)
    response = session.goto(f"/pages/children/{child}/step-down")
    assert response.status == 403
    assert session.page.locator("h1").inner_text().strip() == "Not for your role"
