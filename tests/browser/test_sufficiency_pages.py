"""The sufficiency job in Chromium, as a commissioning lead does it: choose a scenario, change it in the form, run
it, watch it run (and cancel one), then read its charts and tables, checked against the API's answer for the
same run; the form's errors; and a placement officer kept out.  axe-core on every state."""

from __future__ import annotations

import re

from matching.access import Role
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as

RUN_PAGE = re.compile(r".*/pages/sufficiency/[0-9a-f]{32}$")


def table(s: Session, table_id: str) -> list[list[str]]:
    rows = s.page.locator(f"#{table_id} tbody tr")
    return [[c.strip() for c in row.locator("th, td").all_inner_texts()] for row in rows.all()]


def choose_and_fill(s: Session, scenario: str, **fields: str) -> None:
    """Choose a bundled scenario, fill the form in with it, then change ``fields`` (by their labels)."""
    s.page.get_by_label(scenario, exact=True).check()
    s.page.get_by_role("button", name="Fill in the form with this scenario").click()
    s.page.wait_for_load_state()
    for label, value in fields.items():
        s.page.get_by_label(label, exact=True).fill(value)


def run(s: Session) -> str:
    s.page.get_by_role("button", name="Run the scenario").click()
    s.page.wait_for_load_state()
    assert RUN_PAGE.match(s.page.url), s.page.url
    return s.page.url.rsplit("/", 1)[1]


def wait_until_ended(s: Session, seconds: float = 90) -> None:
    """The page follows the run and loads itself again once it has ended: wait for that."""
    s.page.wait_for_selector("#monthly-table, #run-outcome", timeout=seconds * 1000)
    s.page.wait_for_load_state()


def test_a_commissioning_lead_runs_a_what_if_and_reads_what_the_api_answers(session: Session) -> None:
    sign_in_as(session, Role.COMMISSIONING_LEAD, "/pages/sufficiency")
    assert session.page.url.endswith("/pages/sufficiency")
    assert session.page.get_by_label("Baseline", exact=True).is_checked()
    session.check("sufficiency-form")

    # A long run: its progress, then cancelled.
    choose_and_fill(session, "Baseline", **{"Months ahead": "24", "Simulated futures": "5000"})
    long_id = run(session)
    assert session.page.locator("#run-progress").count() == 1
    percent = session.page.locator("#run-percent").inner_text()
    assert re.match(r"^\d+% done\.", percent), percent
    session.check("sufficiency-progress")
    session.page.get_by_role("button", name="Cancel this run").click()
    session.page.wait_for_load_state()
    assert session.page.locator("#run-status").inner_text().strip() == "Cancelled"
    assert session.api(f"/v1/sufficiency/runs/{long_id}")["status"] == "cancelled"

    # A small what-if, run to the end.
    session.goto("/pages/sufficiency")
    choose_and_fill(session, "Recruit teen carers", **{"Months ahead": "4", "Simulated futures": "8"})
    job_id = run(session)
    wait_until_ended(session)
    assert session.page.locator("#run-status").inner_text().strip() == "Finished"
    api = session.api(f"/v1/sufficiency/runs/{job_id}")
    assert api["status"] == "done"
    result = api["result"]
    assert result["scenario"] == "recruit_teen_carers"
    assert (result["horizon_months"], result["simulations"]) == (4, 8)

    monthly = result["summary"]["monthly"]
    assert table(session, "monthly-table") == [
        [str(m + 1), f"{monthly['demand'][m]:,.1f}", f"{monthly['vacancies'][m]:,.1f}", f"{monthly['unmet'][m]:,.1f}"]
        for m in range(4)
    ]
    shown = {r[0]: r[1:] for r in table(session, "what-if-table")}
    for line in result["what_if"]["lines"]:
        label = next(k for k in shown if k.lower().startswith(line["label"].lower()))
        baseline, what_if, difference = shown[label][:3]
        if line["measure"] == "cost":
            assert baseline == f"£{line['baseline']:,.0f}"
        else:
            assert (baseline, what_if) == (f"{line['baseline']:,.1f}", f"{line['what_if']:,.1f}")
            assert float(difference.replace(",", "")) == round(line["difference"], 1)
    by_month = result["difference_from_baseline"]["unmet_by_month"]
    assert [r[:3] for r in table(session, "what-if-month-table")] == [
        [str(m + 1), f"{by_month['baseline'][m]:,.1f}", f"{by_month['what_if'][m]:,.1f}"] for m in range(4)
    ]
    bands = result["summary"]["unmet_by_age_band"]
    base_bands = result["baseline"]["unmet_by_age_band"]
    assert [r[1:] for r in table(session, "band-table")] == [
        [f"{bands[b]:,.1f}", f"{base_bands[b]:,.1f}"] for b in bands
    ]
    needs = sorted(result["summary"]["unmet_by_need"].values(), reverse=True)
    assert [r[2] for r in table(session, "need-table")] == [f"{v:,.1f}" for v in needs]
    bottlenecks = [t.strip() for t in session.page.locator("#bottlenecks li").all_inner_texts()]
    assert bottlenecks == [b["text"] for b in result["summary"]["bottlenecks"]]
    weekly = result["summary"]["weekly_cost"]
    assert f"£{weekly['foster']:,.0f} per week" in session.page.locator("#weekly-cost").inner_text()
    for chart in ("chart-monthly", "chart-what-if", "chart-age-band", "chart-need"):
        assert session.page.locator(f"svg#{chart} > title").text_content()
    session.check("sufficiency-result")

    # Both runs are listed under the form, newest first.
    session.page.get_by_role("link", name="Sufficiency: scenarios and your runs").click()
    session.page.wait_for_load_state()
    listed = session.page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.job)")
    assert listed[:2] == [job_id, long_id]


def test_the_form_shows_the_apis_problems_at_their_fields(session: Session) -> None:
    sign_in_as(session, Role.COMMISSIONING_LEAD, "/pages/sufficiency")
    session.page.get_by_label("Months ahead", exact=True).fill("40")
    session.page.get_by_label("Simulated futures", exact=True).fill("a few")
    session.page.get_by_role("button", name="Run the scenario").click()
    session.page.wait_for_load_state()
    assert session.page.title().startswith("Error: ")
    summary = session.page.locator(".govuk-error-summary")
    assert "Simulated futures: Input should be a valid integer" in summary.inner_text()
    summary.get_by_role("link", name=re.compile("^Simulated futures")).click()
    assert session.page.evaluate("document.activeElement.id") == "simulations"
    assert session.page.locator("#simulations-error").is_visible()
    session.check("sufficiency-form-error")
    # Once the futures are right, the horizon's own rule speaks: the API's words.
    session.page.get_by_label("Simulated futures", exact=True).fill("5")
    session.page.get_by_role("button", name="Run the scenario").click()
    session.page.wait_for_load_state()
    assert "Months ahead: beyond what the data supports (at most 36)" in summary.inner_text()


def test_a_placement_officer_cannot_use_the_sufficiency_pages(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    response = session.goto("/pages/sufficiency")
    assert response.status == 403
    assert "Sufficiency" not in [
        t.strip() for t in session.page.locator(".govuk-service-navigation__item").all_inner_texts()
    ]
    session.check("sufficiency-forbidden")
