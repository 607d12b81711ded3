"""Monitoring through the API: a decision recorded shows in the figures at once, an authority outside the remit is
403, a window that runs backwards is 422, only placement officers and commissioning leads may read it, and the
answer names no child (so the audit trail records the request without children)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from matching.store import queries
from tests.api.test_access import audit_entries, last_seq

Factory = Callable[..., TestClient]
PATH = "/v1/monitoring/decisions"


def undecided_referral(client: TestClient) -> dict[str, Any]:
    """An open referral in the placement officer's remit with no decision recorded yet (the store is shared)."""
    for item in client.get("/v1/referrals", params={"limit": 100}).json()["items"]:
        if client.get(f"/v1/referrals/{item['referral_id']}/decisions").json() == []:
            return dict(item)
    raise AssertionError("every open referral has a decision")


def _reason(figures: dict[str, Any], key: str, code: str) -> int:
    return next((r["count"] for r in figures[key] if r["code"] == code), 0)


def _urgency(figures: dict[str, Any], urgency: str) -> int:
    return int(next(u["waiting"]["n"] for u in figures["by_urgency"] if u["urgency"] == urgency))


def test_a_decision_recorded_shows_in_the_figures(client: TestClient, loaded_sqlite: Engine) -> None:
    item = undecided_referral(client)
    before = client.get(PATH).json()
    body = {"outcome": "no_household", "named_officer": "A. Officer, Head of Placements", "reason_codes": ["no_offer"]}
    assert client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=body).status_code == 201
    since = last_seq(loaded_sqlite)
    r = client.get(PATH, params={"la_code": "L001"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["la_codes"] == ["L001"]
    today = datetime.now(UTC).date()
    assert (after["date_from"], after["date_to"]) == ((today - timedelta(days=730)).isoformat(), today.isoformat())
    assert after["decisions_recorded"] == before["decisions_recorded"] + 1
    assert after["referrals_decided"] == before["referrals_decided"] + 1
    assert after["no_household"] == before["no_household"] + 1
    assert _reason(after, "no_household_reasons", "no_offer") == _reason(before, "no_household_reasons", "no_offer") + 1
    assert _urgency(after, item["urgency"]) == _urgency(before, item["urgency"]) + 1
    assert after["waiting"]["n"] == after["referrals_decided"]
    for g in after["by_group"]:
        assert (g["n"] is None) == g["suppressed"] == (g["n_text"] == "fewer than 5")
    # Counts only: no child, referral or officer is named, and the audit entry touches no child.
    assert item["child_id"] not in r.text
    assert item["referral_id"] not in r.text
    assert "A. Officer" not in r.text
    entries = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith(f"GET {PATH}")]
    assert [(e.outcome, e.child_ids) for e in entries] == [("200", ())]


def test_the_window_selects_decisions_by_the_day_they_were_recorded(client: TestClient) -> None:
    empty = client.get(PATH, params={"from": "2001-01-01", "to": "2001-12-31"}).json()
    assert (empty["decisions_recorded"], empty["best_ranked_share"]) == (0, None)
    assert {g["n_text"] for g in empty["by_group"]} == {"fewer than 5"}  # every group listed, none given away
    assert [u["waiting"] for u in empty["by_urgency"]] == [{"n": 0, "median_days": None, "p90_days": None}] * 3
    backwards = client.get(PATH, params={"from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.status_code == 422
    assert [tuple(e["loc"]) for e in backwards.json()["detail"]] == [("query", "from")]
    assert client.get(PATH, params={"from": "1 March 2026"}).status_code == 422


def test_only_an_authority_in_the_remit_and_only_the_monitoring_roles(client_as: Factory) -> None:
    officer = client_as(Role.PLACEMENT_OFFICER)
    refused = officer.get(PATH, params={"la_code": "L999"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the authority is not in your remit"
    assert client_as("elsewhere").get(PATH, params={"la_code": "L001"}).status_code == 403
    lead = client_as(Role.COMMISSIONING_LEAD).get(PATH, params={"la_code": "L001"})
    assert lead.status_code == 200
    assert (
        lead.json()["decisions_recorded"] == officer.get(PATH, params={"la_code": "L001"}).json()["decisions_recorded"]
    )
    for role in (Role.FOSTERING_OFFICER, Role.AUDITOR, Role.ADMINISTRATOR):
        assert client_as(role).get(PATH).status_code == 403, role


# --- the page ------------------------------------------------------------------------------------------------


def test_the_page_shows_the_apis_figures_and_says_when_there_are_none(
    client: TestClient, page_client_as: Factory
) -> None:
    item = undecided_referral(client)
    body = {"outcome": "no_household", "named_officer": "A. Officer", "reason_codes": ["returned_home"]}
    assert client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=body).status_code == 201
    figures = client.get(PATH, params={"la_code": "L001"}).json()
    page = page_client_as(Role.COMMISSIONING_LEAD).get("/pages/monitoring", params={"la_code": "L001"})
    assert page.status_code == 200, page.text
    assert f'id="decisions-recorded">{figures["decisions_recorded"]:,}<' in page.text
    assert f'id="no-household">{figures["no_household"]:,}<' in page.text
    assert 'data-code="returned_home"' in page.text
    assert 'id="urgency-chart"' in page.text
    assert item["child_id"] not in page.text
    old = page_client_as(Role.PLACEMENT_OFFICER).get(
        "/pages/monitoring",
        params={
            "from-day": "1",
            "from-month": "1",
            "from-year": "2001",
            "to-day": "31",
            "to-month": "12",
            "to-year": "2001",
        },
    )
    assert old.status_code == 200
    assert "No decisions have been recorded in this window." in old.text
    assert 'id="urgency-chart"' not in old.text


def test_the_page_says_what_is_wrong_with_the_dates(page_client_as: Factory) -> None:
    officer = page_client_as(Role.PLACEMENT_OFFICER)
    r = officer.get("/pages/monitoring", params={"from-day": "31", "from-month": "2", "from-year": "2026"})
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    assert '<a href="#from-day">The first day must be a real date</a>' in r.text
    backwards = {
        "from-day": "2",
        "from-month": "2",
        "from-year": "2026",
        "to-day": "1",
        "to-month": "1",
        "to-year": "2026",
    }
    r = officer.get("/pages/monitoring", params=backwards)
    assert r.status_code == 422
    assert "The first day must be on or before the last day" in r.text  # the API's message
    assert officer.get("/pages/monitoring", params={"la_code": "L999"}).status_code == 403
    for role in (Role.AUDITOR, Role.FOSTERING_OFFICER, Role.ADMINISTRATOR):
        assert page_client_as(role).get("/pages/monitoring").status_code == 403, role


def test_a_placement_started_shows_on_the_outcome_side_as_not_yet_a_year_on(
    client: TestClient, page_client_as: Factory, loaded_sqlite: Engine
) -> None:
    from tests.api.test_outcomes import _decide

    before = client.get(PATH, params={"la_code": "L001"}).json()["outcomes"]
    decision, _item = _decide(client)
    today = datetime.now(UTC).date().isoformat()
    r = client.post(f"/v1/decisions/{decision['id']}/outcomes", json={"kind": "started", "on": today})
    assert r.status_code == 201, r.text
    after = client.get(PATH, params={"la_code": "L001"}).json()["outcomes"]
    assert after["calibration"]["started"] == before["calibration"]["started"] + 1
    assert after["calibration"]["pending"] == before["calibration"]["pending"] + 1  # a year on only next year
    # Known as on the store's as-at date: what happened after it is not in the records yet.
    with loaded_sqlite.connect() as conn:
        assert after["as_at"] == queries.as_at(conn).isoformat()
    assert after["referrals"] >= 1
    month = next(m for m in after["by_month"] if m["month"] == today[:7])
    assert month["calibration"]["started"] >= 1
    for g in [*after["by_group"], *after["offers_by_group"]]:
        assert g["suppressed"] == (g["n_text"] == "fewer than 5")
    page = page_client_as(Role.PLACEMENT_OFFICER).get("/pages/monitoring", params={"la_code": "L001"})
    assert page.status_code == 200, page.text
    assert f'id="calibration-started">{after["calibration"]["started"]:,}<' in page.text
    assert f'data-month="{today[:7]}"' in page.text
    assert 'id="offers-table"' in page.text
