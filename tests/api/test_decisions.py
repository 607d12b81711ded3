"""Recording a named officer's decision on a referral through the API: the ranking recomputed and frozen as the
snapshot, every problem listed at once as a 422 with its field, remit and role enforced, and the write audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from tests.api.test_access import audit_entries, last_seq

Factory = Callable[..., TestClient]


def _referral_with_two_candidates(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    for item in client.get("/v1/referrals", params={"limit": 40}).json()["items"]:
        matches = client.get(f"/v1/children/{item['child_id']}/matches", params={"top": 25}).json()
        if len(matches["candidates"]) >= 2 and matches["referral_id"] == item["referral_id"]:
            return item, matches
    raise AssertionError("no waiting child with two candidates")


def test_a_departure_from_the_ranking_without_reasons_or_officer_is_422_listing_both(client: TestClient) -> None:
    item, matches = _referral_with_two_candidates(client)
    second = matches["candidates"][1]["household_id"]
    before = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()
    r = client.post(
        f"/v1/referrals/{item['referral_id']}/decisions",
        json={"outcome": "household_chosen", "named_officer": " ", "household_id": second},
    )
    assert r.status_code == 422
    fields = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert {("body", "named_officer"), ("body", "reason_codes")} <= fields
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json() == before  # nothing recorded


def test_a_decision_is_recorded_on_the_ranking_as_shown_and_audited(client: TestClient, loaded_sqlite: Engine) -> None:
    item, matches = _referral_with_two_candidates(client)
    second = matches["candidates"][1]
    since = last_seq(loaded_sqlite)
    body = {
        "outcome": "household_chosen",
        "named_officer": "A. Officer, Head of Placements",
        "household_id": second["household_id"],
        "reason_codes": ["school_stability"],
        "accepted_warnings": [w["code"] for w in second["warnings"]],
    }
    r = client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=body)
    assert r.status_code == 201, r.text
    decision = r.json()
    assert decision["departs_from_ranking"] is True
    assert decision["best_ranked_household_id"] == matches["candidates"][0]["household_id"]
    assert decision["recorded_by"] == "demo.placement"
    listed = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()
    assert listed[-1] == decision
    snap = client.get(f"/v1/decisions/snapshots/{decision['snapshot_sha256']}").json()
    shown = [c["household_id"] for c in snap["payload"]["ranking"]["candidates"]]
    assert shown == [c["household_id"] for c in matches["candidates"]]  # what the officer was shown
    entries = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith("POST /v1/referrals")]
    assert [(e.outcome, e.child_ids) for e in entries] == [("201", (item["child_id"],))]


def test_outside_the_remit_or_the_role_is_refused(client_as: Factory, client: TestClient) -> None:
    item, _ = _referral_with_two_candidates(client)
    body = {"outcome": "no_household", "named_officer": "A. Officer", "reason_codes": ["no_offer"]}
    path = f"/v1/referrals/{item['referral_id']}/decisions"
    assert client_as("elsewhere").post(path, json=body).status_code == 404
    for role in (Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD, Role.AUDITOR, Role.ADMINISTRATOR):
        assert client_as(role).post(path, json=body).status_code == 403, role
    assert client.post("/v1/referrals/NO-SUCH/decisions", json=body).status_code == 404
    assert client.get(f"/v1/decisions/snapshots/{'0' * 64}").status_code == 404
