"""The placement officer's pages: the ranked matches with the child in brief, two or three candidates compared
side by side, the shortlist as CSV (as the API ranks it, safe to open in a spreadsheet), printing, a child's
step-down readiness, and the "show as on" date form every dated page carries."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.routes.pages.children import csv_cell
from api.routes.pages.dates import back_to, date_of
from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user, get_user
from matching.fit_config import FACTORS
from tests.api.test_access import audit_entries, last_seq

ON = "2026-04-01"
CHILD = "L001-C00002"


def _api_matches(client: TestClient, child: str = CHILD, top: int = 10) -> dict[str, Any]:
    r = client.get(f"/v1/children/{child}/matches", params={"on": ON, "top": top})
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def _child_with_candidates(client: TestClient, at_least: int = 2) -> tuple[str, dict[str, Any]]:
    waiting = client.get("/v1/referrals", params={"on": ON, "limit": 100}).json()["items"]
    for item in waiting:
        api = _api_matches(client, item["child_id"])
        if len(api["candidates"]) >= at_least:
            return item["child_id"], api
    raise AssertionError("no waiting child with enough candidates")


def test_matches_page_puts_the_child_above_the_candidates(client: TestClient, page_client: TestClient) -> None:
    child, api = _child_with_candidates(client)
    about = client.get(f"/v1/children/{child}", params={"on": ON}).json()
    r = page_client.get(f"/pages/children/{child}/matches", params={"on": ON})
    assert r.status_code == 200
    summary = r.text.split('id="child-summary"', 1)[1].split("</dl>", 1)[0]
    assert f'id="summary-age">{about["age"]} on {ON}' in summary
    for heading in ("Age", "Needs", "Placement type", "Needed", "Brothers and sisters"):
        assert f">{heading}</dt>" in summary
    # one compare checkbox per candidate, in a GET form to the compare page
    boxes = re.findall(r'name="household" type="checkbox" value="([^"]+)"', r.text)
    assert boxes == [c["household_id"] for c in api["candidates"]]
    assert f'action="/pages/children/{child}/matches/compare"' in r.text
    assert f'href="/pages/children/{child}/matches.csv?top=10&amp;on={ON}"' in r.text
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in r.text
    assert "Print this shortlist" in r.text
    assert 'id="on-day"' in r.text  # the date form


def test_compare_sets_two_or_three_candidates_side_by_side(client: TestClient, page_client: TestClient) -> None:
    child, api = _child_with_candidates(client, 3)
    chosen = [api["candidates"][0], api["candidates"][2]]
    r = page_client.get(
        f"/pages/children/{child}/matches/compare",
        params=[("on", ON), ("household", chosen[0]["household_id"]), ("household", chosen[1]["household_id"])],
    )
    assert r.status_code == 200, r.text[:500]
    table = r.text.split('id="compare"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r'<th scope="col" class="govuk-table__header" data-household="([^"]+)"', table)
    assert heads == [c["household_id"] for c in chosen]
    score_row = table.split('id="row-score"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'pm-compare-score">([0-9.]+)<', score_row) == [f"{c['score']:.1f}" for c in chosen]
    for name in FACTORS:
        row = table.split(f'id="row-{name}"', 1)[1].split("</tr>", 1)[0]
        shown = re.findall(r'pm-contribution">([0-9.]+)<', row)
        expected = [f"{f['contribution']:.1f}" for c in chosen for f in c["factors"] if f["name"] == name]
        assert shown == expected, name
    for row in ("row-rank", "row-needs", "row-distance", "row-vacancies", "row-warnings", "row-gaps"):
        assert f'id="{row}"' in table
    vacancies = table.split('id="row-vacancies"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-household="[^"]+">(\d+)<', vacancies) == [str(c["vacancies"]) for c in chosen]
    three = page_client.get(
        f"/pages/children/{child}/matches/compare",
        params=[("on", ON), *(("household", c["household_id"]) for c in api["candidates"][:3])],
    )
    assert three.status_code == 200
    assert "Compare 3 households" in three.text


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda ids: ids[:1], "Select two or three households to compare"),
        (lambda ids: [], "Select two or three households to compare"),
        (lambda ids: [*ids[:2], "NOT-A-HOUSEHOLD"], "Select only households from this child"),
        (lambda ids: [*ids[:3], "H-X", "H-Y"], "Select no more than three households to compare"),
    ],
)
def test_compare_refuses_a_wrong_choice_with_an_error_summary(
    client: TestClient, page_client: TestClient, pick: Callable[[list[str]], list[str]], message: str
) -> None:
    child, api = _child_with_candidates(client, 3)
    ids = [c["household_id"] for c in api["candidates"]]
    r = page_client.get(
        f"/pages/children/{child}/matches/compare", params=[("on", ON), *(("household", h) for h in pick(ids))]
    )
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    summary = r.text.split('class="govuk-error-summary"', 1)[1].split("</div>\n</div>", 1)[0]
    assert message in summary
    assert f'href="#compare-{ids[0]}"' in summary
    assert 'id="compare-error"' in r.text
    assert "NOT-A-HOUSEHOLD" not in r.text  # the value sent is not echoed
    # the choice is kept: the ticked boxes stay ticked
    for h in pick(ids):
        if h in ids:
            assert f'value="{h}" checked' in r.text


def test_a_household_outside_the_childs_candidates_cannot_be_compared(
    client: TestClient, page_client: TestClient
) -> None:
    child, api = _child_with_candidates(client)
    ids = {c["household_id"] for c in _api_matches(client, child, top=100)["candidates"]}
    households = client.get("/v1/households", params={"limit": 500}).json()["items"]
    other = next(h["household_id"] for h in households if h["household_id"] not in ids)
    r = page_client.get(
        f"/pages/children/{child}/matches/compare",
        params=[("on", ON), ("household", api["candidates"][0]["household_id"]), ("household", other)],
    )
    assert r.status_code == 422


def test_shortlist_csv_is_the_apis_ranking_and_is_audited(
    client: TestClient, page_client: TestClient, loaded_sqlite: Engine
) -> None:
    child, _ = _child_with_candidates(client)
    api = _api_matches(client, child, top=5)
    since = last_seq(loaded_sqlite)
    r = page_client.get(f"/pages/children/{child}/matches.csv", params={"on": ON, "top": 5})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="matches-{child}-{ON}.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["rank", "household", "score", *FACTORS, "distance_miles", "vacancies", "warnings"]
    assert [(int(x["rank"]), x["household"], float(x["score"])) for x in rows] == [
        (c["rank"], c["household_id"], c["score"]) for c in api["candidates"]
    ]
    for x, c in zip(rows, api["candidates"], strict=True):
        for f in c["factors"]:
            assert float(x[f["name"]]) == pytest.approx(f["contribution"])
        assert int(x["vacancies"]) == c["vacancies"]
        assert int(x["warnings"]) == len(c["warnings"])
        assert x["distance_miles"] == ("" if c["distance_miles"] is None else f"{c['distance_miles']:.1f}")
    entries = audit_entries(loaded_sqlite, since)
    csv_entry = next(e for e in entries if e.action == "GET /pages/children/{child_id}/matches.csv")
    assert child in csv_entry.child_ids
    assert csv_entry.username == "demo.placement"


def test_csv_cells_never_start_a_formula() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+44", "-3", "@SUM(A1)", "H-1", 12.5, None)] == [
        "'=1+1", "'+44", "'-3", "'@SUM(A1)", "H-1", "12.5", ""
    ]  # fmt: skip


def test_matches_pages_are_not_for_a_fostering_officer(page_client_as) -> None:  # type: ignore[no-untyped-def]
    fostering = page_client_as(Role.FOSTERING_OFFICER)
    for path in ("matches", "matches.csv", "matches/compare?household=A&household=B"):
        r = fostering.get(f"/pages/children/{CHILD}/{path}")
        assert r.status_code == 403, path
        assert "text/html" in r.headers["content-type"]


@pytest.fixture
def elsewhere_pages(make_client, loaded_sqlite: Engine) -> TestClient:  # type: ignore[no-untyped-def]
    """A placement officer signed in to the pages whose remit is another authority only."""
    password = "another authority's officer 42"
    with loaded_sqlite.begin() as conn:
        if get_user(conn, "elsewhere.pages") is None:
            create_user(
                conn,
                username="elsewhere.pages",
                role=Role.PLACEMENT_OFFICER,
                remit=Remit(frozenset({"L999"}), frozenset({"LA-L999"})),
                actor=Actor.system("tests"),
                password=password,
            )
    c: TestClient = make_client()
    form = c.get("/pages/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = c.post(
        "/pages/sign-in",
        data={"csrf_token": token.group(1), "username": "elsewhere.pages", "password": password, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return c


def test_another_authoritys_child_is_not_found(client: TestClient, elsewhere_pages: TestClient) -> None:
    child, api = _child_with_candidates(client)
    ids = [c["household_id"] for c in api["candidates"][:2]]
    cohort = client.get("/v1/step-down", params={"on": ON}).json()["children"]
    for path, params in (
        (f"/pages/children/{child}/matches", {}),
        (f"/pages/children/{child}/matches.csv", {}),
        (f"/pages/children/{child}/matches/compare", {"household": ids}),
        (f"/pages/children/{cohort[0]['child_id']}/step-down", {}),
    ):
        r = elsewhere_pages.get(path, params={"on": ON, **params})
        assert r.status_code == 404, path
        assert child not in r.text.replace(path, "")


def test_child_step_down_page_shows_the_apis_assessment(client: TestClient, page_client: TestClient) -> None:
    cohort = client.get("/v1/step-down", params={"on": ON}).json()["children"]
    assert cohort
    with_options = [c for c in cohort if c["candidates"]] or cohort
    for child in (with_options[0], cohort[-1]):
        api = client.get(f"/v1/children/{child['child_id']}/step-down", params={"on": ON}).json()
        r = page_client.get(f"/pages/children/{child['child_id']}/step-down", params={"on": ON})
        assert r.status_code == 200
        assert f'data-stage="{api["stage"]}"' in r.text
        shown = re.findall(r'data-indicator="([^"]+)" data-status="([^"]+)"', r.text)
        assert shown == [(i["name"], i["status"]) for i in api["indicators"]]
        for i in api["indicators"]:
            assert i["value"].replace("'", "&#39;") in r.text
        for b in api["blockers"]:
            assert b.replace("'", "&#39;").replace('"', "&#34;") in r.text
        for c in api["candidates"]:
            if c["household_id"]:
                assert f'href="/pages/households/{c["household_id"]}?on={ON}"' in r.text
        assert f"£{api['weekly_cost_now']:,} a week" in r.text
        if api["weekly_cost_candidate"] is not None:
            difference = api["weekly_cost_now"] - api["weekly_cost_candidate"]
            assert f"£{abs(difference):,} a week {'less' if difference >= 0 else 'more'}" in r.text
        assert 'class="pm-chart"' in r.text or "No monthly progress records" in r.text
        assert 'id="trend"' in r.text
    # linked from the cohort page and from the child's page
    page = page_client.get("/pages/step-down", params={"on": ON})
    assert f'href="/pages/children/{cohort[0]["child_id"]}/step-down?on={ON}"' in page.text
    child_page = page_client.get(f"/pages/children/{cohort[0]['child_id']}", params={"on": ON})
    assert f'href="/pages/children/{cohort[0]["child_id"]}/step-down?on={ON}"' in child_page.text


def test_child_step_down_page_refusals(client: TestClient, page_client: TestClient, page_client_as) -> None:  # type: ignore[no-untyped-def]
    cohort = {c["child_id"] for c in client.get("/v1/step-down", params={"on": ON}).json()["children"]}
    waiting = client.get("/v1/referrals", params={"on": ON, "limit": 100}).json()["items"]
    outside = next(i["child_id"] for i in waiting if i["child_id"] not in cohort)
    r = page_client.get(f"/pages/children/{outside}/step-down", params={"on": ON})
    assert r.status_code == 404
    assert "residential placement" in r.text
    fostering = page_client_as(Role.FOSTERING_OFFICER)
    assert fostering.get(f"/pages/children/{next(iter(cohort))}/step-down").status_code == 403


@pytest.mark.parametrize(
    ("day", "month", "year", "message", "field"),
    [
        ("", "", "", "Enter the date to show the page as on", "day"),
        ("1", "", "2026", "The date must include a month", "month"),
        ("31", "2", "2026", "The date must be a real date", "day"),
        ("1", "x", "2026", "The date must be a real date", "month"),
        ("1", "4", "26", "Year must include 4 numbers", "year"),
        ("1", "1", "1900", "Enter a date between ", "day"),
    ],
)
def test_date_form_refuses_a_date_that_is_not_real_or_outside_the_store(
    page_client: TestClient, day: str, month: str, year: str, message: str, field: str
) -> None:
    r = page_client.get(
        "/pages/show-as-on",
        params={"next": f"/pages/children/{CHILD}/matches?top=5", "on-day": day, "on-month": month, "on-year": year},
    )
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    summary = r.text.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    assert message in summary
    assert f'href="#on-{field}"' in summary
    assert f'value="{day}"' in r.text  # what was typed is kept
    assert f'value="{year}"' in r.text
    assert f'href="/pages/children/{CHILD}/matches?top=5"' in r.text  # back to the page
    if year == "1900":
        api = page_client.get(f"/pages/children/{CHILD}/matches", params={"on": "1900-01-01"})
        assert api.status_code == 422
        # the same words as the API's 422 for ?on=
        assert "the store&#39;s records widened by MATCHING_DATE_WINDOW_DAYS" in r.text


def test_date_form_goes_back_to_the_page_as_on_the_date(page_client: TestClient) -> None:
    for page in (
        "/pages/waiting?urgency=today&on=2026-01-01",
        f"/pages/children/{CHILD}",
        f"/pages/children/{CHILD}/matches?top=5",
        "/pages/step-down?stage=not_yet_ready",
    ):
        shown = page_client.get(page)
        assert shown.status_code == 200, page
        assert 'action="/pages/show-as-on"' in shown.text, page
        sent = re.search(r'name="next" value="([^"]+)"', shown.text)
        assert sent is not None
        next_path = sent.group(1).replace("&amp;", "&")
        assert "on=" not in next_path
        r = page_client.get(
            "/pages/show-as-on",
            params={"next": next_path, "on-day": "2", "on-month": "3", "on-year": "2026"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"].endswith("on=2026-03-02")
        assert r.headers["location"].split("?")[0] == page.split("?")[0]
        assert page_client.get(r.headers["location"]).status_code == 200


def test_date_helpers() -> None:
    assert date_of("1", "4", "2026")[0] is not None
    assert date_of(" 01 ", "04", "2026")[0].isoformat() == "2026-04-01"  # type: ignore[union-attr]
    assert date_of("٣", "4", "2026")[1] == "The date must be a real date"
    assert back_to("https://evil.example/x", date(2026, 4, 1)) == "/pages/home?on=2026-04-01"
    assert back_to("//evil.example/x", date(2026, 4, 1)) == "/pages/home?on=2026-04-01"
    assert back_to("/v1/children", date(2026, 4, 1)) == "/pages/home?on=2026-04-01"
    assert back_to("/pages/waiting?on=2020-01-01&page=2", date(2026, 4, 1)) == "/pages/waiting?page=2&on=2026-04-01"
