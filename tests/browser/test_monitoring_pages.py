"""Monitoring in Chromium: a placement officer records a decision through the API, opens Monitoring from the
navigation, chooses the authority and reads the figures, which are the API's answer to the same request; a
commissioning lead reads it too; an auditor is refused.  axe-core on each state."""

from __future__ import annotations

from typing import Any

from matching.access import Role
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as
from tests.browser.test_sufficiency_pages import table

PATH = "/v1/monitoring/decisions"


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _record_a_departure_from_the_ranking(s: Session) -> dict[str, Any]:
    """A decision for the second-ranked household of an undecided referral, through the API with the session's
    cookie and CSRF token (as the decision page will send it)."""
    token = s.page.locator('input[name="csrf_token"]').first.get_attribute("value")
    for item in s.api("/v1/referrals", limit=100)["items"]:
        if s.api(f"/v1/referrals/{item['referral_id']}/decisions"):
            continue
        matches = s.api(f"/v1/children/{item['child_id']}/matches", top=25)
        if len(matches["candidates"]) < 2 or matches["referral_id"] != item["referral_id"]:
            continue
        second = matches["candidates"][1]
        body = {
            "outcome": "household_chosen",
            "named_officer": "A. Officer, Head of Placements",
            "household_id": second["household_id"],
            "reason_codes": ["school_stability", "contact"],
            "accepted_warnings": [w["code"] for w in second["warnings"]],
        }
        r = s.context.request.post(
            f"{s.base}/v1/referrals/{item['referral_id']}/decisions", data=body, headers={"X-CSRF-Token": token or ""}
        )
        assert r.status == 201, r.text()
        return dict(item)
    raise AssertionError("no undecided referral with two candidates")


def _the_page_shows(s: Session, figures: dict[str, Any]) -> None:
    text = {k: s.page.locator(f"#{k}").inner_text().strip() for k in ("decisions-recorded", "referrals-decided")}
    assert text == {
        "decisions-recorded": f"{figures['decisions_recorded']:,}",
        "referrals-decided": f"{figures['referrals_decided']:,}",
    }
    assert s.page.locator("#household-chosen").inner_text().strip() == f"{figures['household_chosen']:,}"
    assert s.page.locator("#no-household").inner_text().strip() == f"{figures['no_household']:,}"
    assert s.page.locator("#best-ranked-count").inner_text().strip() == f"{figures['best_ranked_chosen']:,}"
    assert s.page.locator("#best-ranked-share").inner_text().strip() == f"{figures['best_ranked_share']:.0%}"
    assert s.page.locator("#waiting-median").inner_text().strip() == _days(figures["waiting"]["median_days"])
    assert s.page.locator("#waiting-p90").inner_text().strip() == _days(figures["waiting"]["p90_days"])
    assert table(s, "override-table") == [[r["words"], f"{r['count']:,}"] for r in figures["override_reasons"]]
    assert table(s, "urgency-table") == [
        [
            u["words"].capitalize(),
            f"{u['waiting']['n']:,}",
            _days(u["waiting"]["median_days"]),
            _days(u["waiting"]["p90_days"]),
        ]
        for u in figures["by_urgency"]
    ]
    groups = table(s, "group-table")
    assert len(groups) == len(figures["by_group"])
    for row, g in zip(groups, figures["by_group"], strict=True):
        assert row[0].endswith(g["words"])
        assert row[1] == g["n_text"]
        if g["suppressed"]:
            assert row[1:] == ["fewer than 5", "Not shown"]
        else:
            assert row[2:4] == [_days(g["median_days"]), _days(g["p90_days"])]
            assert row[4].startswith(f"{g['no_household']:,} (")


def test_a_placement_officer_records_a_decision_then_reads_it_in_monitoring(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    session.goto("/pages/monitoring?from-day=1&from-month=1&from-year=2001&to-day=31&to-month=12&to-year=2001")
    assert session.page.locator("#no-decisions").inner_text() == "No decisions have been recorded in this window."
    session.check("monitoring-empty")

    item = _record_a_departure_from_the_ranking(session)
    session.goto("/pages/home")
    session.page.locator(".govuk-service-navigation__item").get_by_role("link", name="Monitoring").click()
    session.page.wait_for_load_state()
    session.page.get_by_label("Authority").select_option("L001")
    session.page.get_by_role("button", name="Show").click()
    session.page.wait_for_load_state()
    assert "la_code=L001" in session.page.url
    figures = session.api(PATH, la_code="L001")
    assert figures["decisions_recorded"] >= 1
    assert {r["code"] for r in figures["override_reasons"]} >= {"school_stability", "contact"}
    _the_page_shows(session, figures)
    assert item["child_id"] not in session.page.content()  # counts only
    assert session.page.locator("#override-chart").get_attribute("role") == "img"
    assert session.page.locator("#urgency-chart").get_attribute("role") == "img"
    session.check("monitoring")

    session.context.clear_cookies()
    sign_in_as(session, Role.COMMISSIONING_LEAD, "/pages/monitoring")
    assert session.page.url.endswith("/pages/monitoring")
    _the_page_shows(session, session.api(PATH))
    session.check("monitoring-commissioning")


def test_the_dates_are_checked_and_an_auditor_is_refused(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    session.goto("/pages/monitoring?from-day=2&from-month=2&from-year=2026&to-day=1&to-month=1&to-year=2026")
    summary = session.page.locator(".govuk-error-summary")
    assert summary.get_by_role("link", name="The first day must be on or before the last day").count() == 1
    assert session.page.title().startswith("Error: ")
    session.check("monitoring-error")
    session.context.clear_cookies()
    sign_in_as(session, Role.AUDITOR)
    assert session.goto("/pages/monitoring").status == 403
    assert "Monitoring" not in [
        t.strip() for t in session.page.locator(".govuk-service-navigation__item").all_inner_texts()
    ]
    session.check("monitoring-forbidden")
