"""Allocation as a commissioning lead does it, in Chromium: fill the form, watch the job, read the result, and
check the page against the API's answer for the same job (``GET /v1/allocations/{id}``); axe-core on the form,
its errors, the progress and the result."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import Engine, select

from matching.access import Role
from matching.accounts.demo import DEMO_ACCOUNTS
from matching.domain import Scope
from matching.jobs import store as js
from matching.jobs.kinds import allocation_parameters
from matching.store import schema
from tests.browser.conftest import Session

ACCOUNTS = {d.role: d for d in DEMO_ACCOUNTS}


def sign_in_as(s: Session, role: Role, next_path: str | None = None) -> None:
    a = ACCOUNTS[role]
    s.sign_in(a.username, a.password, next_path)


def running_job(engine: Engine, role: Role, progress: int, stage: str) -> str:
    """A job of ``role``'s account shown as running on another host (no runner here claims it): the progress
    state held still, for as long as the test looks at it."""
    username = ACCOUNTS[role].username
    with engine.begin() as conn:
        owner = conn.execute(
            select(schema.user_account.c.id).where(schema.user_account.c.username == username)
        ).scalar_one()
        parameters = allocation_parameters(
            Scope(la_codes=frozenset({"L001"}), agency_codes=frozenset({"LA-L001"})),
            date(2026, 4, 1),
            time_limit_seconds=5,
            seed=2024,
            objective="fairness",
            min_fit=0,
            max_distance_miles=None,
            keep_current=None,
        )
        job = js.create(conn, kind="allocation", owner_id=owner, owner=username, area={"L001"}, parameters=parameters)
        now = js.utcnow()
        js.move(
            conn,
            job.job_id,
            js.RUNNING,
            runner="elsewhere.invalid:1:x",
            started_at=now,
            heartbeat_at=now,
            progress=progress,
            stage=stage,
        )
    return job.job_id


def test_allocation_from_the_form_to_the_result_as_the_api_gives_it(session: Session) -> None:
    sign_in_as(session, Role.COMMISSIONING_LEAD, "/pages/allocations")
    page = session.page
    assert page.url.endswith("/pages/allocations")
    assert page.locator("h1").inner_text() == "Allocate waiting children"
    session.check("allocation-form")
    page.get_by_label("Area").select_option("la:L001")
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("4")
    page.get_by_label("Year").fill("2026")
    page.get_by_label("Place as many children as possible, then the best total fit").check()
    page.get_by_label("Time limit").fill("3")
    page.get_by_text("More options").click()
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Start the allocation").click()
    page.wait_for_load_state()
    match = re.search(r"/pages/allocations/([0-9a-f]{32})$", page.url)
    assert match is not None, page.url
    job_id = match.group(1)
    page.locator("#headline").wait_for(timeout=120_000)  # the page's script reloads it once the job is done
    job = session.api(f"/v1/allocations/{job_id}")
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert int(page.locator("#placed").inner_text()) == result["summary"]["placed"]
    fcfs = result["baselines"]["first_come_first_served"]
    assert int(page.locator("#fcfs-placed").inner_text()) == fcfs["placed"]
    assert page.locator("#mean-fit").inner_text() == f"{result['summary']['mean_fit']:.1f}"
    rows = page.locator("#assignments tbody tr").evaluate_all(
        "els => els.map(e => [e.dataset.child, e.dataset.household])"
    )
    assert rows == [[a["child_id"], a["household_id"]] for a in result["assignments"]]
    unplaced = page.locator("#unplaced tbody tr").evaluate_all("els => els.map(e => e.dataset.child)")
    assert unplaced == [u["child_id"] for u in result["unplaced"]]
    assert page.locator("#assignments a").count() == 0  # a commissioning lead may not open children's records
    comparison = page.locator("#comparison tbody tr").first.inner_text()
    assert comparison.split("\t")[1:] == [str(result["summary"]["placed"]), str(fcfs["placed"])]
    assert (page.locator("svg.pm-chart title").first.text_content() or "").startswith("Children placed")
    session.check("allocation-result")
    session.goto("/pages/allocations")
    assert page.locator(f'#recent-jobs tr[data-job="{job_id}"]').inner_text().count("Finished") == 1


def test_the_form_says_what_is_wrong(session: Session) -> None:
    sign_in_as(session, Role.COMMISSIONING_LEAD, "/pages/allocations")
    page = session.page
    page.get_by_label("Time limit").fill("0")
    page.get_by_label("Greatest distance").fill("far")
    page.get_by_role("button", name="Start the allocation").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "Time limit: Input should be greater than or equal to 0.1" in summary.inner_text()  # MIN_SECONDS
    assert "Greatest distance: Input should be a valid number" in summary.inner_text()
    assert page.get_by_label("Greatest distance").input_value() == "far"
    session.check("allocation-form-error")
    summary.get_by_role("link", name=re.compile("^Time limit")).click()
    assert page.evaluate("document.activeElement.id") == "time_limit_seconds"


def test_progress_and_cancel(session: Session, browser_store: Engine) -> None:
    sign_in_as(session, Role.COMMISSIONING_LEAD)
    job_id = running_job(browser_store, Role.COMMISSIONING_LEAD, 40, "solving")
    session.goto(f"/pages/allocations/{job_id}")
    page = session.page
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # WCAG 2.2.1: the script asks instead
    assert page.locator("#progress-percent").inner_text() == "40%"
    assert page.locator("#progress").get_attribute("value") == "40"
    with page.expect_response(lambda r: r.url.endswith(f"/v1/allocations/{job_id}")) as asked:
        pass  # the page's script asks the API how far the job has got
    assert asked.value.json()["progress"] == 40
    assert page.locator("#progress-stage").inner_text() == "solving"
    session.check("allocation-progress")
    with browser_store.begin() as conn:  # the job moves on: the page follows without being loaded again
        conn.execute(schema.job.update().where(schema.job.c.id == job_id).values(progress=70, stage="checking"))
    page.locator("#progress-percent", has_text="70%").wait_for(timeout=10_000)
    assert page.locator("#progress").evaluate("e => e.value") == 70
    page.get_by_role("button", name="Cancel the allocation").click()
    page.wait_for_load_state()
    assert "was cancelled" in page.locator("#outcome").inner_text()
    assert session.api(f"/v1/allocations/{job_id}")["status"] == "cancelled"


def test_a_placement_officer_may_not_allocate(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    response = session.goto("/pages/allocations")
    assert response.status == 403
    assert session.page.locator("h1").inner_text() == "Not for your role"
