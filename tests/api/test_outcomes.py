"""What happened after a decision, through the API and the page: the placement started, ended (with the SSDA903
reason) or did not start; every problem a 422 naming its field; remit (404) and role (403) enforced; each write
audited.  The store is shared by the session's tests: each test makes decisions of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from matching.decisions.outcomes import day_in_england
from tests.api.test_access import audit_entries, last_seq
from tests.api.test_decisions import _referral_with_two_candidates

Factory = Callable[..., TestClient]


def _today() -> date:
    from datetime import UTC, datetime

    return day_in_england(datetime.now(UTC))


def _decide(client: TestClient, outcome: str = "household_chosen") -> tuple[dict[str, Any], dict[str, Any]]:
    """A new decision on a waiting child's referral (the best-ranked household, or none), and the referral."""
    item, matches = _referral_with_two_candidates(client)
    best = matches["candidates"][0]
    body: dict[str, Any] = {"outcome": outcome, "named_officer": "A. Officer, Head of Placements"}
    if outcome == "household_chosen":
        body |= {
            "household_id": best["household_id"],
            "accepted_warnings": [w["code"] for w in best["warnings"]],
            "reason_codes": ["support_agreed"] if best["warnings"] else [],
        }
    else:
        body["reason_codes"] = ["no_offer"]
    r = client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=body)
    assert r.status_code == 201, r.text
    return r.json(), item


def test_a_placement_starts_and_ends_and_each_record_is_audited(client: TestClient, loaded_sqlite: Engine) -> None:
    decision, item = _decide(client)
    path = f"/v1/decisions/{decision['id']}/outcomes"
    assert client.get(path).json()["state"] == "awaiting start"
    since = last_seq(loaded_sqlite)
    today = _today().isoformat()
    r = client.post(path, json={"kind": "started", "on": today})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "started"
    assert r.json()["recorded_by"] == "demo.placement"
    r = client.post(path, json={"kind": "ended", "on": today, "reason": "E4A", "reason_text": "Went home."})
    assert r.status_code == 201, r.text
    assert r.json()["reason_words"].startswith("Returned home")
    placement = client.get(path).json()
    assert (placement["state"], placement["started_on"], placement["ended_on"], placement["reason"]) == (
        "ended",
        today,
        today,
        "E4A",
    )
    assert [o["kind"] for o in placement["outcomes"]] == ["started", "ended"]
    entries = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith("POST /v1/decisions")]
    assert [(e.outcome, e.child_ids) for e in entries] == [("201", (item["child_id"],))] * 2
    assert all(e.detail and str(decision["id"]) in e.detail for e in entries)


def test_every_problem_is_a_422_naming_its_field_and_nothing_is_recorded(client: TestClient) -> None:
    decision, _ = _decide(client)
    path = f"/v1/decisions/{decision['id']}/outcomes"
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    r = client.post(path, json={"kind": "ended", "on": tomorrow, "reason": "E99"})
    assert r.status_code == 422
    problems = {tuple(e["loc"]): e["msg"] for e in r.json()["detail"]}
    assert problems == {
        ("body", "kind"): "Record the day the placement started before recording its end",
        ("body", "on"): "The date the placement ended must be today or in the past",
        ("body", "reason"): "Choose the reason the placement ended from the SSDA903 list (REC)",
    }
    r = client.post(path, json={"kind": "not_started"})
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", "on"), ("body", "reason")}
    assert client.post(path, json={"kind": "moved", "on": tomorrow}).status_code == 422
    assert client.get(path).json()["outcomes"] == []
    none, _ = _decide(client, "no_household")
    r = client.post(f"/v1/decisions/{none['id']}/outcomes", json={"kind": "started", "on": _today().isoformat()})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "kind"]
    assert client.get(f"/v1/decisions/{none['id']}/outcomes").json()["state"] is None


def test_outside_the_remit_or_the_role_is_refused(client_as: Factory, client: TestClient) -> None:
    decision, _ = _decide(client)
    path = f"/v1/decisions/{decision['id']}/outcomes"
    body = {"kind": "started", "on": _today().isoformat()}
    elsewhere = client_as("elsewhere")
    assert elsewhere.post(path, json=body).status_code == 404
    assert elsewhere.get(path).status_code == 404
    for role in (Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD, Role.AUDITOR, Role.ADMINISTRATOR):
        assert client_as(role).post(path, json=body).status_code == 403, role
        assert client_as(role).get(path).status_code == 403, role
    assert client.post("/v1/decisions/2000000000/outcomes", json=body).status_code == 404
    assert client.get(path).json()["outcomes"] == []


# --- The page ------------------------------------------------------------------------------------------


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, **fields}


def test_the_outcome_page_records_a_start_and_goes_back_to_the_decision(
    page_client_as: Factory, client: TestClient, loaded_sqlite: Engine
) -> None:
    decision, item = _decide(client)
    browser = page_client_as(Role.PLACEMENT_OFFICER)
    url = f"/pages/decisions/{decision['id']}/outcome"
    page = browser.get(url)
    assert page.status_code == 200
    assert "What happened" in page.text
    assert 'name="kind"' in page.text
    assert "Adopted" in page.text
    assert "The carers withdrew" in page.text
    today = _today()
    since = last_seq(loaded_sqlite)
    r = browser.post(
        url,
        data=_form(
            _csrf(page.text),
            kind="started",
            **{"on-day": str(today.day), "on-month": str(today.month), "on-year": str(today.year)},
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/pages/decisions/{decision['id']}"
    assert client.get(f"/v1/decisions/{decision['id']}/outcomes").json()["state"] == "started"
    entries = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith("POST /pages/decisions")]
    assert [(e.outcome, e.child_ids) for e in entries] == [("201", (item["child_id"],))]
    again = browser.get(url)
    assert "Started" in again.text
    assert today.strftime("%B %Y") in again.text


def test_the_outcome_page_lists_every_problem_in_the_apis_words(page_client_as: Factory, client: TestClient) -> None:
    decision, _ = _decide(client)
    browser = page_client_as(Role.PLACEMENT_OFFICER)
    url = f"/pages/decisions/{decision['id']}/outcome"
    token = _csrf(browser.get(url).text)
    r = browser.post(url, data=_form(token, kind="ended", **{"on-day": "31", "on-month": "2", "on-year": "2026"}))
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    assert "govuk-error-summary" in r.text
    assert "Record the day the placement started before recording its end" in r.text
    assert "Choose the reason the placement ended" in r.text
    assert "The date the placement ended must be a real date" in r.text
    assert 'href="#on-day"' in r.text
    assert 'href="#kind"' in r.text
    assert 'href="#reason_ended"' in r.text
    r = browser.post(url, data=_form(token))
    assert r.status_code == 422
    assert "Choose what happened" in r.text
    api = client.post(f"/v1/decisions/{decision['id']}/outcomes", json={"kind": "ended", "on": _today().isoformat()})
    api_messages = {e["msg"] for e in api.json()["detail"]}
    assert api_messages <= set(re.findall(r"<a href=\"#[^\"]+\">([^<]+)</a>", r.text)) | {
        "Record the day the placement started before recording its end",
        "Choose the reason the placement ended",
    }
    assert client.get(f"/v1/decisions/{decision['id']}/outcomes").json()["outcomes"] == []


def test_the_outcome_page_needs_the_csrf_token_the_role_and_the_remit(
    page_client_as: Factory, client: TestClient
) -> None:
    decision, _ = _decide(client)
    url = f"/pages/decisions/{decision['id']}/outcome"
    browser = page_client_as(Role.PLACEMENT_OFFICER)
    today = _today()
    fields = {"kind": "started", "on-day": str(today.day), "on-month": str(today.month), "on-year": str(today.year)}
    assert browser.post(url, data=_form("not-the-token", **fields), follow_redirects=False).status_code == 403
    assert browser.post(url, data=fields, follow_redirects=False).status_code == 403
    assert client.get(f"/v1/decisions/{decision['id']}/outcomes").json()["outcomes"] == []
    assert page_client_as(Role.COMMISSIONING_LEAD).get(url).status_code == 403
    assert browser.get("/pages/decisions/2000000000/outcome").status_code == 404


def test_the_decision_page_says_what_happened_and_links_to_record_it(
    client: TestClient, page_client_as: Callable[..., TestClient]
) -> None:
    decision, _ = _decide(client)
    page = page_client_as(Role.PLACEMENT_OFFICER)
    before = page.get(f"/pages/decisions/{decision['id']}").text
    assert "Awaiting start" in before
    assert f'href="/pages/decisions/{decision["id"]}/outcome"' in before
    started = client.post(
        f"/v1/decisions/{decision['id']}/outcomes", json={"kind": "started", "on": _today().isoformat()}
    )
    assert started.status_code == 201, started.text
    assert "Started; started " in page.get(f"/pages/decisions/{decision['id']}").text
