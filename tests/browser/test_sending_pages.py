"""Sending a referral and what comes back, in Chromium: the placement officer sends a referral to IFA001 through
the form (an empty form first, and its error summary); the agency officer of IFA001 reads the inbox and the referral
with only its own households ranked (never the child's id nor another service's household), records the carers'
answers (an answer left incomplete, then one agreed, one declined naming one of the child's needs, one asking for
more information) and confirms the "will not consider" suggestion; the in-house service's officer cannot open the
referral; the named officer compares the offers side by side (the matches' own numbers) and follows "Record the
decision" to the form with the offer chosen.  Each page is checked against the API's answer and by axe-core."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser

from matching.accounts.demo import DEMO_ACCOUNTS
from tests.browser.conftest import Session

IFA = "IFA001"
BY_NAME = {d.username: d for d in DEMO_ACCOUNTS}


def _signed_in(browser: Browser, server: str, username: str) -> Session:
    """A new browser context signed in through the form as the demonstration account ``username``."""
    s = Session(browser, server)
    s.sign_in(username, BY_NAME[username].password)
    assert "/pages/sign-in" not in s.page.url, username
    return s


def _referral_for_ifa(s: Session) -> tuple[str, list[dict[str, Any]]]:
    """The last open referral (of the waiting list) sent nowhere yet whose child has at least three suitable
    households in IFA001, and the services of the remit for it: no other browser test decides on it."""
    waiting = s.api("/v1/referrals", limit=500)["items"]
    for item in reversed(waiting):
        r = s.context.request.get(f"{s.base}/v1/referrals/{item['referral_id']}/services")
        if r.status != 200:
            continue
        services = r.json()
        by = {x["agency_code"]: x for x in services}
        if IFA in by and by[IFA]["suitable_households"] >= 3 and all(x["sent"] is None for x in services):
            return str(item["referral_id"]), services
    raise AssertionError("no open referral with three suitable IFA001 households, sent nowhere")


def _households(s: Session) -> list[dict[str, Any]]:
    """Every household of the caller's remit, page by page."""
    found: list[dict[str, Any]] = []
    while True:
        page = s.api("/v1/households", offset=len(found), limit=500)
        found += page["items"]
        if not page["items"] or len(found) >= page["total"]:
            return found


def _cells(s: Session, selector: str) -> list[list[str]]:
    rows: list[list[str]] = s.page.locator(selector).evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))"
    )
    return rows


def test_a_referral_sent_answered_and_its_offers_compared(session: Session, browser: Browser, server: str) -> None:
    page = session.page
    session.sign_in("demo.placement", BY_NAME["demo.placement"].password)
    referral, services = _referral_for_ifa(session)
    ifa = next(x for x in services if x["agency_code"] == IFA)

    # the send page: every service of the remit with the API's counts, nothing sent yet
    session.goto(f"/pages/referrals/{referral}/send")
    assert page.title().startswith(f"Send referral {referral}")
    shown = {
        row.get_attribute("id").removeprefix("service-"): row  # type: ignore[union-attr]
        for row in page.locator("#services tbody tr").all()
    }
    assert list(shown) == [x["agency_code"] for x in services]
    for x in services:
        cells = _cells(session, f"#service-{x['agency_code']}")[0]
        assert cells[2:5] == [str(x["suitable_households"]), str(x["households"]), "Not sent"], cells
    session.check("send-form")

    # nothing ticked: the error summary, the page again (422), nothing sent
    with page.expect_response(f"**/pages/referrals/{referral}/send") as answer:
        page.get_by_role("button", name="Send the referral").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    assert "Choose at least one fostering service" in page.locator(".govuk-error-summary").inner_text()
    session.check("send-form-error")
    page.locator(".govuk-error-summary").get_by_role("link", name="Choose at least one fostering service").click()
    assert page.evaluate("document.activeElement.id") == f"send-{services[0]['agency_code']}"
    assert session.api(f"/v1/referrals/{referral}/sent") == []

    # IFA001 ticked: sent, said so, and no box left for it
    page.get_by_label(f"Send to {ifa['name']}").check()
    page.get_by_role("button", name="Send the referral").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/pages/referrals/{referral}/send?sent=1")
    assert "Referral sent to 1 fostering service" in page.locator(".govuk-notification-banner").inner_text()
    assert page.locator(f"#send-{IFA}").count() == 0
    assert "Sent" in _cells(session, f"#service-{IFA}")[0][4]
    sent = session.api(f"/v1/referrals/{referral}/sent")
    assert [x["agency_code"] for x in sent] == [IFA]
    assert sent[0]["suitable_households"] == ifa["suitable_households"]
    session.check("send-done")
    # what the agency must never see: the child's id and the households of every other service of the remit
    child = session.api(f"/v1/referrals/{referral}/offers")["child_id"]
    others = {h["household_id"] for h in _households(session) if h["agency_code"] != IFA}
    assert others

    agency = _signed_in(browser, server, "demo.agency")
    in_house = _signed_in(browser, server, "demo.fostering")
    manager = _signed_in(browser, server, "demo.manager")
    try:
        # the agency officer's inbox: exactly the referrals the API gives them, this one among them
        a = agency.page
        agency.goto("/pages/agency/referrals")
        assert a.title().startswith("Referrals sent to your services")
        inbox = agency.api("/v1/agency/referrals", status="all", limit=500)["items"]
        rows = _cells(agency, "#referrals tbody tr")
        assert [r[0] for r in rows] == [x["referral_id"] for x in inbox]
        assert referral in [r[0] for r in rows]
        assert child not in a.content()
        agency.check("agency-inbox")

        # the referral as the agency sees it: its own households ranked as the API ranks them, nothing else
        a.get_by_role("link", name=referral, exact=True).click()
        a.wait_for_load_state()
        assert a.url.endswith(f"/pages/agency/referrals/{referral}")
        seen = agency.api(f"/v1/agency/referrals/{referral}")
        candidates = seen["candidates"]
        assert {c["agency_code"] for c in candidates} == {IFA}
        households = [c["household_id"] for c in candidates]
        assert len(households) >= 3
        sections = a.locator("section[id^=household-]").evaluate_all("s => s.map(x => x.id)")
        assert sections == [f"household-{h}" for h in households]
        for c in candidates[:3]:
            title = a.locator(f"#title-{c['household_id']}").inner_text()
            assert title.startswith(f"{c['rank']}. {c['household_id']} · score {c['score']:.1f}"), title
        text = a.content()
        assert child not in text
        assert [h for h in others if h in text] == []
        agency.check("agency-referral")

        agreed, declined, more = households[:3]
        # declined without a reason: the error summary, the household's form kept (422), nothing recorded
        a.get_by_label(f"The carers' answer for {declined}").select_option("declined")
        with a.expect_response(f"**/pages/agency/referrals/{referral}/answers") as answer:
            a.get_by_role("button", name=f"Record the answer for {declined}").click()
        assert answer.value.status == 422
        a.wait_for_load_state()
        assert a.title().startswith("Error: ")
        summary = a.locator(".govuk-error-summary")
        assert "Choose why the carers declined" in summary.inner_text()
        assert a.locator(f"#answer-{declined}").input_value() == "declined"
        agency.check("agency-referral-error")
        summary.get_by_role("link", name="Choose why the carers declined").click()
        assert a.evaluate("document.activeElement.id") == f"reason_code-{declined}"
        assert agency.api(f"/v1/agency/referrals/{referral}")["answers"] == []

        # one agreed, one declined naming one of the child's needs, one asking for more information
        need = next(iter(seen["referral"]["needs"]))
        a.get_by_label(f"The carers' answer for {agreed}").select_option("agreed")
        a.get_by_role("button", name=f"Record the answer for {agreed}").click()
        a.wait_for_load_state()
        a.get_by_label(f"The carers' answer for {declined}").select_option("declined")
        a.get_by_label(f"If they declined: why ({declined})").select_option("needs_beyond_our_experience")
        a.locator(f"#about-{declined}").select_option(need)
        a.get_by_role("button", name=f"Record the answer for {declined}").click()
        a.wait_for_load_state()
        a.get_by_label(f"The carers' answer for {more}").select_option("more_information")
        a.get_by_role("button", name=f"Record the answer for {more}").click()
        a.wait_for_load_state()
        assert a.url.endswith(f"/pages/agency/referrals/{referral}#household-{more}")
        recorded = {x["household_id"]: x for x in agency.api(f"/v1/agency/referrals/{referral}")["answers"]}
        assert {h: x["answer"] for h, x in recorded.items()} == {
            agreed: "agreed", declined: "declined", more: "more_information"
        }  # fmt: skip
        assert recorded[declined]["reason_code"] == "needs_beyond_our_experience"
        for h in (agreed, declined, more):
            assert recorded[h]["answer_words"] in a.locator(f"#title-{h}").inner_text()
        agency.check("agency-referral-answered")

        # the suggestion the decline gave rise to: listed as the API lists it, confirmed, then gone
        agency.goto("/pages/agency/suggestions")
        pending = agency.api("/v1/agency/suggestions")
        listed = a.locator("#suggestions tbody tr").evaluate_all("rows => rows.map(r => r.id)")
        assert listed == [f"suggestion-{x['id']}" for x in pending]
        mine = next(x for x in pending if x["referral_id"] == referral and x["household_id"] == declined)
        assert mine["code"] == need
        row = a.locator(f"#suggestion-{mine['id']}")
        assert f"(referral {referral})" in row.inner_text()
        agency.check("agency-suggestions")
        row.get_by_role("button", name=f"Confirm for {declined}").click()
        a.wait_for_load_state()
        assert a.url.endswith("/pages/agency/suggestions")
        assert a.locator(f"#suggestion-{mine['id']}").count() == 0
        assert mine["id"] not in [x["id"] for x in agency.api("/v1/agency/suggestions")]

        # the in-house service's officer: the referral was not sent to them (404), and not in their inbox
        response = in_house.goto(f"/pages/agency/referrals/{referral}")
        assert response.status == 404
        in_house.check("agency-referral-not-sent")
        in_house.goto("/pages/agency/referrals")
        assert referral not in in_house.page.content()
        assert referral not in [x["referral_id"] for x in in_house.api("/v1/agency/referrals", status="all")["items"]]

        # the named officer compares the offers: the API's own numbers, the others' answers below
        m = manager.page
        manager.goto(f"/pages/referrals/{referral}/offers")
        assert m.title().startswith(f"Offers on referral {referral}")
        api = manager.api(f"/v1/referrals/{referral}/offers")
        assert [o["household_id"] for o in api["offers"]] == [agreed]
        columns = m.locator("#offers thead th[data-household]").evaluate_all("c => c.map(x => x.dataset.household)")
        assert columns == [o["household_id"] for o in api["offers"]]
        for o, rank, score in zip(
            api["offers"], _cells(manager, "#row-rank")[0][1:], _cells(manager, "#row-score")[0][1:], strict=True
        ):
            e = o["explanation"]
            assert rank == f"{e['rank']} of {api['eligible']}"
            assert score == f"{e['score']:.1f}"
        assert api["best_ranked_household_id"] == agreed
        assert "Best-ranked offer" in m.locator(f"#offers thead th[data-household='{agreed}']").inner_text()
        other_rows = {r[0]: r for r in _cells(manager, "#other-answers tbody tr")}
        assert set(other_rows) == {x["household_id"] for x in api["other_answers"] if x["stands"]} == {declined, more}
        assert other_rows[declined][1] == "Declined"
        assert other_rows[more][1] == "Asked for more information"
        manager.check("offers-compared")

        # "Record the decision" for the offer: the form with it chosen
        m.get_by_role("link", name=f"Record the decision for {agreed}").click()
        m.wait_for_load_state()
        assert m.url.endswith(f"/pages/referrals/{referral}/decision?household_id={agreed}")
        assert m.get_by_label(agreed, exact=True).is_checked()
        manager.check("decision-form-from-offer")
    finally:
        for s in (agency, in_house, manager):
            s.close()
