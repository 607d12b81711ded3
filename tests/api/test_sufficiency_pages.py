"""The sufficiency pages: the form filled in from a bundled scenario, checked by the API's own rules (the same
messages as its 422), a run started as the API starts one, its page against the API's answer, and who may see
what."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine

from api.routes.pages.sufficiency import body_of, bundled, form_of
from api.settings import Settings
from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user, get_user
from matching.sufficiency.scenario import Scenario
from tests.api.conftest import ClientFactory

PAGE = "/pages/sufficiency"
#: A run small enough to take a second or two.
SMALL = {"horizon_months": "3", "simulations": "3", "seed": "11"}


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def form_fields(page: str) -> dict[str, Any]:
    """What the page's scenario form would send as it is (text inputs, ticked boxes, selected options)."""
    form = page.split('id="scenario-form"', 1)[1].split("</form>", 1)[0]
    fields: dict[str, Any] = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                fields.setdefault(name.group(1), []).append(html.unescape(value.group(1) if value else ""))
        else:
            fields[name.group(1)] = html.unescape(value.group(1) if value else "")
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = html.unescape(body)
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        fields[name] = chosen.group(1) if chosen else ""
    return fields


def cells(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody", 1)[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, re.S)
    ]


def wait_for(client: TestClient, where: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(where)
        assert page.status_code == 200, page.text
        if 'id="run-progress"' not in page.text:
            return page.text
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.2)


@pytest.mark.parametrize("name", sorted(bundled()))
def test_the_form_of_a_bundled_scenario_sends_that_scenario(name: str) -> None:
    def plain(s: Scenario) -> dict[str, Any]:  # the order of a group's courses does not matter
        d = s.model_dump()
        for r in d["levers"]["recruit"]:
            r["courses"] = sorted(r["courses"])
        return d

    scenario = bundled()[name]
    assert plain(Scenario.model_validate(body_of(form_of(scenario)).body)) == plain(scenario)


def test_the_form_is_filled_in_with_the_chosen_scenario(page_client_as: Callable[..., TestClient]) -> None:
    lead = page_client_as(Role.COMMISSIONING_LEAD)
    page = lead.get(PAGE, params={"scenario": "recruit_teen_carers"})
    assert page.status_code == 200
    for s in bundled().values():  # each scenario offered, with its description in words
        assert f'value="{s.name}"' in page.text
        assert str(escape(s.description)) in page.text
    sent = form_fields(page.text)
    assert sent["name"] == "recruit_teen_carers"
    assert sent["recruit-0-households"] == "15"
    assert (sent["recruit-0-youngest"], sent["recruit-0-oldest"]) == ("11", "17")
    assert sorted(sent["recruit-0-courses"]) == ["de_escalation_pbs", "missing_from_care", "self_harm_awareness"]
    assert sent["las"] == ["L001"]
    assert lead.get(PAGE, params={"scenario": "nope"}).status_code == 422


def test_form_errors_are_the_apis_messages_at_their_fields(
    page_client_as: Callable[..., TestClient], client_as: Callable[..., TestClient]
) -> None:
    lead = page_client_as(Role.COMMISSIONING_LEAD)
    page = lead.get(PAGE).text
    sent = form_fields(page) | {
        "horizon_months": "40",
        "simulations": "many",
        "recruit-0-households": "3",
        "recruit-0-youngest": "12",
        "recruit-0-oldest": "5",
        "train-trauma_informed": "-2",
        "las": [],
    }
    r = lead.post(PAGE, data=sent, follow_redirects=False)
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    summary = r.text.split('class="govuk-error-summary"', 1)[1].split("</div>\n</div>", 1)[0]
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert {href for href, _ in links} == {"simulations", "recruit-0-youngest", "train-trauma_informed", "las"}
    for href, _ in links:
        assert f'id="{href}-error"' in r.text  # the message at its field too
        assert re.search(rf'id="{re.escape(href)}"', r.text)
    # The API's 422 for the same scenario: the same messages (the page names the field in words instead of a path).
    from api.routes.pages.sufficiency import ScenarioForm

    form = ScenarioForm(
        values={k: v for k, v in sent.items() if isinstance(v, str)},
        checked={k: set(v) for k, v in sent.items() if isinstance(v, list)},
        recruit_rows=2,
    )
    api = client_as(Role.COMMISSIONING_LEAD).post("/v1/sufficiency/runs", json=body_of(form).body)
    assert api.status_code == 422
    for problem in api.json()["detail"]:
        message = problem["msg"].removeprefix("Value error, ")
        message = message.split(": ", 1)[1] if re.match(r"^[a-z_.0-9]+: ", message) else message
        assert str(escape(message)) in summary, message
    # Fixed, the horizon's own rule (checked once the fields are) is the API's too.
    sent |= {"simulations": "3", "recruit-0-oldest": "15", "train-trauma_informed": "", "las": ["L001"]}
    r = lead.post(PAGE, data=sent, follow_redirects=False)
    assert r.status_code == 422
    assert '<a href="#horizon_months">Months ahead: beyond what the data supports (at most 36)</a>' in r.text


def test_a_run_through_the_form_shows_the_apis_result(
    page_client_as: Callable[..., TestClient], client_as: Callable[..., TestClient]
) -> None:
    lead = page_client_as(Role.COMMISSIONING_LEAD)
    sent = form_fields(lead.get(PAGE, params={"scenario": "recruit_teen_carers"}).text) | SMALL
    r = lead.post(PAGE, data=sent, follow_redirects=False)
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    job_id = where.rsplit("/", 1)[1]
    page = wait_for(lead, where)
    api = client_as(Role.COMMISSIONING_LEAD).get(f"/v1/sufficiency/runs/{job_id}").json()
    assert api["status"] == "done"
    result = api["result"]
    monthly = result["summary"]["monthly"]
    assert cells(page, "monthly-table") == [
        [str(m + 1), f"{monthly['demand'][m]:,.1f}", f"{monthly['vacancies'][m]:,.1f}", f"{monthly['unmet'][m]:,.1f}"]
        for m in range(3)
    ]
    lines = {line["measure"]: line for line in result["what_if"]["lines"]}
    for row in cells(page, "what-if-table"):
        line = next(ln for ln in lines.values() if row[0].lower().startswith(ln["label"].lower()))
        if line["measure"] != "cost":
            assert row[1:3] == [f"{line['baseline']:,.1f}", f"{line['what_if']:,.1f}"]
    by_month = result["difference_from_baseline"]["unmet_by_month"]
    assert by_month["what_if"][-1] == pytest.approx(result["summary"]["headline"]["unmet"]["mean"], abs=0.01)
    assert by_month["baseline"][-1] == pytest.approx(result["baseline"]["headline"]["unmet"]["mean"], abs=0.01)
    assert [row[:3] for row in cells(page, "what-if-month-table")] == [
        [str(m + 1), f"{by_month['baseline'][m]:,.1f}", f"{by_month['what_if'][m]:,.1f}"] for m in range(3)
    ]
    bands = result["summary"]["unmet_by_age_band"]
    base_bands = result["baseline"]["unmet_by_age_band"]
    assert [row[1:] for row in cells(page, "band-table")] == [
        [f"{bands[b]:,.1f}", f"{base_bands[b]:,.1f}"] for b in bands
    ]
    for b in result["summary"]["bottlenecks"]:
        assert str(escape(b["text"])) in page
    weekly = result["summary"]["weekly_cost"]
    assert f"£{weekly['foster']:,.0f} per week" in page
    assert f"£{weekly['residential']:,.0f} per week" in page
    for chart in ("chart-monthly", "chart-what-if", "chart-age-band", "chart-need"):
        assert f'id="{chart}"' in page
    # It is listed under the form.
    assert f'data-job="{job_id}"' in lead.get(PAGE).text


def test_a_run_outside_the_remit_a_full_queue_and_a_missing_token_are_refused(
    page_client_as: Callable[..., TestClient], make_client: ClientFactory, loaded_sqlite: Engine
) -> None:
    lead = page_client_as(Role.COMMISSIONING_LEAD)
    sent = form_fields(lead.get(PAGE).text) | SMALL
    assert lead.post(PAGE, data={**sent, "csrf_token": "forged"}).status_code == 403
    stranger = _signed_in(make_client(), loaded_sqlite, "lead.elsewhere", Remit(frozenset({"L999"})))
    r = stranger.post(PAGE, data=sent | {"csrf_token": csrf(stranger.get(PAGE).text)})
    assert r.status_code == 403
    assert "outside your remit: L001" in r.text
    full = _signed_in(make_client(Settings(job_queue_max_per_user=0)), loaded_sqlite, "lead.full")
    r = full.post(PAGE, data=sent | {"csrf_token": csrf(full.get(PAGE).text)}, follow_redirects=False)
    assert r.status_code == 429
    assert r.headers["retry-after"]
    assert "The run was not started: you have 0 jobs waiting to run (at most 0)" in r.text


def test_only_its_starter_sees_a_run_and_a_placement_officer_sees_none(
    page_client_as: Callable[..., TestClient], make_client: ClientFactory, loaded_sqlite: Engine
) -> None:
    lead = page_client_as(Role.COMMISSIONING_LEAD)
    sent = form_fields(lead.get(PAGE).text) | SMALL
    where = lead.post(PAGE, data=sent, follow_redirects=False).headers["location"]
    other = _signed_in(make_client(), loaded_sqlite, "lead.other")
    assert other.get(where).status_code == 404
    assert where.rsplit("/", 1)[1] not in other.get(PAGE).text
    officer = page_client_as(Role.PLACEMENT_OFFICER)
    assert officer.get(PAGE).status_code == 403
    assert officer.get(where).status_code == 403
    assert officer.post(PAGE, data=sent).status_code == 403
    wait_for(lead, where)


def _signed_in(client: TestClient, engine: Engine, username: str, remit: Remit | None = None) -> TestClient:
    """``client`` signed in to the pages as a commissioning lead ``username`` (created once)."""
    password = f"{username}-password-for-tests"
    with engine.begin() as conn:
        if get_user(conn, username) is None:
            create_user(
                conn,
                username=username,
                role=Role.COMMISSIONING_LEAD,
                remit=remit or Remit(frozenset({"L001"}), frozenset({"LA-L001"})),
                actor=Actor.system("tests"),
                password=password,
            )
    form = client.get("/pages/sign-in")
    r = client.post(
        "/pages/sign-in",
        data={"csrf_token": csrf(form.text), "username": username, "password": password, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client
