"""The allocation pages: the form checked as the API checks its body, always run as a job, the job's progress,
cancel and restart, and the result as the API gives it."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine, select

from api.settings import Settings
from matching.access import Role
from matching.domain import Scope
from matching.jobs import store as js
from matching.jobs.kinds import allocation_parameters
from matching.store import schema
from tests.api.conftest import USERNAMES, sign_in

ON = "2026-04-01"
Factory = Callable[..., TestClient]


@pytest.fixture
def lead_page(page_client_as: Factory) -> TestClient:
    """A browser signed in to the pages as the demonstration commissioning lead."""
    return page_client_as(Role.COMMISSIONING_LEAD)


@pytest.fixture
def lead_api(client_as: Factory) -> TestClient:
    """The demonstration commissioning lead's API client (a bearer token: the same user)."""
    return client_as(Role.COMMISSIONING_LEAD)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def form(client: TestClient, **changes: str) -> dict[str, str]:
    """The allocation form as the page fills it in, with ``changes``."""
    page = client.get("/pages/allocations")
    assert page.status_code == 200
    fields = {
        "csrf_token": csrf_of(page.text),
        "area": "la:L001",
        "placement_date-day": "1",
        "placement_date-month": "4",
        "placement_date-year": "2026",
        "objective": "total",
        "time_limit_seconds": "5",
        "min_fit": "0",
        "max_distance_miles": "",
        "keep_current_points": "",
        "seed": "2024",
    }
    return {**fields, **changes}


def user_id(engine: Engine, role: Role) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(schema.user_account.c.id).where(schema.user_account.c.username == USERNAMES[role])
            ).scalar_one()
        )


def fake_job(engine: Engine, role: Role, state: str, **values: Any) -> str:
    """A job of ``role``'s demonstration account over L001, put in ``state`` by hand (run by another host, so no
    runner here claims it)."""
    parameters = allocation_parameters(
        Scope(la_codes=frozenset({"L001"}), agency_codes=frozenset({"LA-L001"})),
        date(2026, 4, 1),
        time_limit_seconds=5,
        seed=2024,
        objective="total",
        min_fit=0,
        max_distance_miles=None,
        keep_current=None,
    )
    with engine.begin() as conn:
        job = js.create(
            conn,
            kind="allocation",
            owner_id=user_id(engine, role),
            owner=USERNAMES[role],
            area={"L001"},
            parameters=parameters,
        )
        now = js.utcnow()
        js.move(conn, job.job_id, js.RUNNING, runner="elsewhere.invalid:1:x", started_at=now, heartbeat_at=now)
        if state == js.INTERRUPTED:
            js.interrupt(conn, [job.job_id], keep=timedelta(days=1))
        elif values:
            conn.execute(schema.job.update().where(schema.job.c.id == job.job_id).values(**values))
    return job.job_id


def test_the_form_offers_the_remit_and_the_as_at_date(lead_page: TestClient, lead_api: TestClient) -> None:
    r = lead_page.get("/pages/allocations")
    assert r.status_code == 200
    assert 'value="la:L001" selected' in r.text
    assert re.search(r'<option value="la:(?!L001)', r.text) is None  # no authority outside the remit
    for name in ("placement_date-day", "objective", "time_limit_seconds", "min_fit", "max_distance_miles", "seed"):
        assert f'id="{name}"' in r.text
    assert "More options" in r.text
    assert 'name="csrf_token"' in r.text
    assert 'href="/pages/allocations" aria-current="page"' in r.text


def test_only_a_commissioning_lead_may_allocate(page_client_as: Factory) -> None:
    officer = page_client_as(Role.PLACEMENT_OFFICER)
    r = officer.get("/pages/allocations")
    assert r.status_code == 403
    assert "Not for your role" in r.text
    assert officer.post("/pages/allocations", data={"area": "la:L001"}).status_code == 403


def test_form_errors_are_the_apis_with_an_error_summary(lead_page: TestClient, lead_api: TestClient) -> None:
    sent = form(lead_page, time_limit_seconds="0", min_fit="101", seed="lots")
    r = lead_page.post("/pages/allocations", data=sent)
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    assert "govuk-error-summary" in r.text
    for field in ("time_limit_seconds", "min_fit", "seed"):
        assert f'href="#{field}"' in r.text
        assert f'id="{field}-error"' in r.text
    api = lead_api.post("/v1/allocations", json={"time_limit_seconds": 0, "min_fit": 101, "seed": "lots"})
    assert api.status_code == 422
    for problem in api.json()["detail"]:
        assert html.escape(problem["msg"], quote=True) in r.text
    assert "lots" in r.text  # the form keeps what was typed, for the person to correct
    too_long = lead_page.post("/pages/allocations", data=form(lead_page, time_limit_seconds="61"))
    assert too_long.status_code == 422
    assert "MATCHING_ALLOCATION_MAX_SECONDS" in too_long.text
    bad_date = lead_page.post("/pages/allocations", data=form(lead_page, **{"placement_date-month": "13"}))
    assert bad_date.status_code == 422
    assert 'href="#placement_date-day"' in bad_date.text
    assert "a date YYYY-MM-DD" in bad_date.text
    far = lead_page.post("/pages/allocations", data=form(lead_page, **{"placement_date-year": "2199"}))
    assert far.status_code == 422
    assert "MATCHING_DATE_WINDOW_DAYS" in far.text


def test_an_area_outside_the_remit_is_refused_in_words(lead_page: TestClient) -> None:
    r = lead_page.post("/pages/allocations", data=form(lead_page, area="la:L999"))
    assert r.status_code == 403
    assert 'href="#area"' in r.text
    assert "is not in your remit" in r.text
    r = lead_page.post("/pages/allocations", data=form(lead_page, area="region:Atlantis"))
    assert r.status_code == 422
    assert "No region" in r.text


def test_the_form_needs_the_sessions_csrf_token(lead_page: TestClient) -> None:
    r = lead_page.post("/pages/allocations", data=form(lead_page, csrf_token="forged"))
    assert r.status_code == 403
    assert "page itself" in r.text


@pytest.mark.usefixtures("tokens")  # the demonstration accounts
def test_too_many_children_is_said_in_words(make_client: Factory) -> None:
    client = make_client(Settings(allocation_max_children=5))
    sign_in(client, Role.COMMISSIONING_LEAD)
    r = client.post("/pages/allocations", data=form(client))
    assert r.status_code == 413
    assert "MATCHING_ALLOCATION_MAX_CHILDREN" in r.text
    assert "Choose a smaller area" in r.text


@pytest.mark.usefixtures("tokens")
def test_a_full_queue_is_said_in_words(make_client: Factory) -> None:
    client = make_client(Settings(job_queue_max_per_user=0, job_retry_after_seconds=42))
    sign_in(client, Role.COMMISSIONING_LEAD)
    r = client.post("/pages/allocations", data=form(client))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "42"
    assert "Too many allocations are waiting to run" in r.text
    assert "govuk-error-summary" in r.text


def test_the_page_runs_a_job_and_shows_what_the_api_shows(lead_page: TestClient, lead_api: TestClient) -> None:
    r = lead_page.post("/pages/allocations", data=form(lead_page), follow_redirects=False)
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    job_id = where.rsplit("/", 1)[1]
    deadline = time.monotonic() + 90
    while True:
        page = lead_page.get(where)
        assert page.status_code == 200
        if 'id="progress-panel"' not in page.text:
            break
        assert "<progress" in page.text
        assert "Check progress" in page.text
        assert "Cancel the allocation" in page.text
        assert time.monotonic() < deadline, "the allocation did not finish"
        time.sleep(0.3)
    job = lead_api.get(f"/v1/allocations/{job_id}").json()
    assert job["status"] == "done", job["error"]
    result = job["result"]
    placed = re.search(r'id="placed">(\d+)<', page.text)
    fcfs = re.search(r'id="fcfs-placed">(\d+)<', page.text)
    assert placed is not None
    assert fcfs is not None
    assert int(placed.group(1)) == result["summary"]["placed"]
    assert int(fcfs.group(1)) == result["baselines"]["first_come_first_served"]["placed"]
    rows = re.findall(r'data-child="([^"]+)" data-household="([^"]+)"', page.text)
    assert rows == [(a["child_id"], a["household_id"]) for a in result["assignments"]]
    assert "/pages/children/" not in page.text  # a commissioning lead may not read children's records
    unplaced = page.text.split('id="unplaced"', 1)[1]
    assert re.findall(r'data-child="([^"]+)"', unplaced) == [u["child_id"] for u in result["unplaced"]]
    assert result["levers"]  # what would place the children left out, in the API's words and order
    levers = page.text.split('id="levers"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r"<li>(.*?)\.</li>", levers) == [str(escape(lv["suggestion"])) for lv in result["levers"]]
    assert '<svg class="pm-chart"' in page.text
    assert 'id="comparison"' in page.text
    # like for like: the children both place, each method's own figures, as the API gives them
    like = page.text.split('id="like-for-like"', 1)[1].split("</table>", 1)[0]
    cmp = result["like_for_like"]
    counts = [int(n) for n in re.findall(r'govuk-table__cell--numeric">(\d+)</td>\s*<td', like)]
    expected = [cmp["both"]["ours"], cmp["both"]["first_come_first_served"], cmp["only_ours"]]
    assert counts[:3] == [f["children"] for f in expected]
    groups = page.text.split('id="allocation-groups"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-group="([^"]+)"', groups) == [
        f"{g['attribute']}:{g['group']}" for g in result["fairness_by_group"]
    ]
    listed = lead_page.get("/pages/allocations")
    assert f'data-job="{job_id}"' in listed.text


def test_progress_cancel_and_restart(lead_page: TestClient, loaded_sqlite: Engine) -> None:
    running = fake_job(loaded_sqlite, Role.COMMISSIONING_LEAD, js.RUNNING, progress=40, stage="solving")
    page = lead_page.get(f"/pages/allocations/{running}")
    assert page.status_code == 200
    assert 'http-equiv="refresh"' not in page.text  # no timed reload (WCAG 2.2.1): a script asks, or a link
    assert f'<div id="progress-panel" data-pm-poll="/v1/allocations/{running}">' in page.text
    assert '<script type="module" src="/static/job_progress.js"></script>' in page.text
    assert 'value="40"' in page.text
    assert "40%" in page.text
    assert "solving" in page.text
    token = csrf_of(page.text)
    assert lead_page.post(f"/pages/allocations/{running}/cancel", data={"csrf_token": "no"}).status_code == 403
    done = lead_page.post(f"/pages/allocations/{running}/cancel", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    page = lead_page.get(f"/pages/allocations/{running}")
    assert "was cancelled" in page.text
    assert "job_progress.js" not in page.text
    again = lead_page.post(f"/pages/allocations/{running}/cancel", data={"csrf_token": token}, follow_redirects=False)
    assert again.status_code == 303  # ended already: its page says how

    stopped = fake_job(loaded_sqlite, Role.COMMISSIONING_LEAD, js.INTERRUPTED)
    page = lead_page.get(f"/pages/allocations/{stopped}")
    assert "The service stopped while this allocation was running" in page.text
    assert f'action="/pages/allocations/{stopped}/restart"' in page.text
    r = lead_page.post(f"/pages/allocations/{stopped}/restart", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/pages/allocations/{stopped}"
    with loaded_sqlite.begin() as conn:
        restarted = js.get(conn, stopped)
    assert restarted is not None
    assert restarted.state in {js.QUEUED, js.RUNNING, js.DONE}
    lead_page.post(f"/pages/allocations/{stopped}/cancel", data={"csrf_token": token})  # leave nothing queued


def test_another_users_job_is_not_found(lead_page: TestClient, loaded_sqlite: Engine) -> None:
    theirs = fake_job(loaded_sqlite, Role.PLACEMENT_OFFICER, js.RUNNING)
    r = lead_page.get(f"/pages/allocations/{theirs}")
    assert r.status_code == 404
    assert "Page not found" in r.text
    assert lead_page.get("/pages/allocations/no-such-job").status_code == 404
    with loaded_sqlite.begin() as conn:
        js.cancel(conn, theirs, keep=timedelta(days=1))


def test_the_like_for_like_choice_goes_from_the_form_to_the_job(lead_page: TestClient, loaded_sqlite: Engine) -> None:
    """Leaving none of first come first served's children worse off is the default; the other choice reaches the
    job as ``no_worse_than_first_come: false``, and the job's page says which was asked for."""
    from api.routes.pages.allocation import AllocationForm

    assert AllocationForm.of({}).request_body()["no_worse_than_first_come"] is True
    assert AllocationForm.of({"first_come": "no_worse"}).request_body()["no_worse_than_first_come"] is True
    assert AllocationForm.of({"first_come": "children_first"}).request_body()["no_worse_than_first_come"] is False
    page = lead_page.get("/pages/allocations")
    assert re.search(r'id="first_come" name="first_come" type="radio" value="no_worse"[^>]*checked', page.text)
    assert 'value="children_first"' in page.text
    for choice, objective, asked, words in (
        ("children_first", "total", False, "the most children, even if some"),
        ("no_worse", "total", True, "none of the children first come first served would place left worse off"),
        # The fairness objective keeps the rule too (since 2026-12-01): its page said nothing of it.
        ("no_worse", "fairness", True, "look after the worst-off child; none of the children first come first served"),
    ):
        r = lead_page.post(
            "/pages/allocations", data=form(lead_page, first_come=choice, objective=objective), follow_redirects=False
        )
        assert r.status_code == 303, r.text
        job_id = r.headers["location"].rsplit("/", 1)[1]
        with loaded_sqlite.begin() as conn:
            job = js.get(conn, job_id)
        assert job is not None
        assert job.parameters["no_worse_than_first_come"] is asked
        assert words in lead_page.get(r.headers["location"]).text
        lead_page.post(f"{r.headers['location']}/cancel", data={"csrf_token": csrf_of(page.text)})
