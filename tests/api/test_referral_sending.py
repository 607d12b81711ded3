"""Sending a referral through the API: the placement officer sends it to the in-house service and IFA001; the
IFA001 officer sees only that referral and only IFA001's households (never the child's id), records answers (a
decline naming a need becomes a suggestion, confirmed); the offers compared carry the matches' own numbers; out of
remit is 404, the wrong role 403, and every write is in the audit trail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from matching.access import Actor, Role
from matching.accounts.tokens import issue_token
from matching.audit import recent_entries
from matching.store import schema
from tests.api.conftest import app_of
from tests.api.test_access import last_seq

IFA, OWN, OTHER_IFA = "IFA001", "LA-L001", "IFA002"


@pytest.fixture
def agency_client(make_client: Callable[..., TestClient], tokens: dict[Role, str], loaded_sqlite: Engine) -> TestClient:
    """The demonstration agency officer of IFA001 (demo.agency)."""
    with loaded_sqlite.begin() as conn:
        token = issue_token(conn, "demo.agency", name="tests", actor=Actor.system("tests")).token
    return make_client(None, token)


def _referral(client: TestClient) -> str:
    """An open referral not yet sent anywhere whose child has suitable households in IFA001 and in-house."""
    waiting = client.get("/v1/referrals", params={"limit": 500}).json()["items"]
    for item in waiting:
        services = client.get(f"/v1/referrals/{item['referral_id']}/services")
        if services.status_code != 200:
            continue
        by = {s["agency_code"]: s for s in services.json()}
        enough = by[IFA]["suitable_households"] >= 3 and by[OWN]["suitable_households"] >= 1
        if enough and all(s["sent"] is None for s in by.values()):
            return str(item["referral_id"])
    raise AssertionError("no suitable referral")


def test_send_answer_suggest_and_compare_offers(
    client: TestClient, agency_client: TestClient, client_as: Callable[..., TestClient], loaded_sqlite: Engine
) -> None:
    referral_id = _referral(client)
    manager = client_as(Role.PLACEMENT_MANAGER)
    since = last_seq(loaded_sqlite)  # the trail is shared by the session's tests: only this test's writes
    # The wrong role is refused; a problem is a 422 with the field's path; nothing is sent then.
    assert agency_client.post(f"/v1/referrals/{referral_id}/sent", json={"agency_codes": [IFA]}).status_code == 403
    assert manager.post(f"/v1/referrals/{referral_id}/sent", json={"agency_codes": [IFA]}).status_code == 403
    bad = client.post(f"/v1/referrals/{referral_id}/sent", json={"agency_codes": [IFA, "IFA999", IFA]})
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {("body", "agency_codes", 1), ("body", "agency_codes", 2)}
    assert "IFA999" not in bad.text
    r = client.post(f"/v1/referrals/{referral_id}/sent", json={"agency_codes": [OWN, IFA]})
    assert r.status_code == 201, r.text
    assert [s["agency_code"] for s in r.json()] == [OWN, IFA]
    again = client.post(f"/v1/referrals/{referral_id}/sent", json={"agency_codes": [IFA]})
    assert again.status_code == 422
    assert [s["agency_code"] for s in client.get(f"/v1/referrals/{referral_id}/sent").json()] == [OWN, IFA]

    # The agency officer of IFA001: only this referral, only IFA001's households, never the child's id.
    inbox = agency_client.get("/v1/agency/referrals")
    assert inbox.status_code == 200
    assert [x["referral_id"] for x in inbox.json()["items"]] == [referral_id]
    seen = agency_client.get(f"/v1/agency/referrals/{referral_id}")
    assert seen.status_code == 200, seen.text
    body = seen.json()
    child_id = client.get(f"/v1/referrals/{referral_id}/offers").json()["child_id"]
    assert child_id not in inbox.text
    assert child_id not in seen.text
    assert body["candidates"]
    assert {c["agency_code"] for c in body["candidates"]} == {IFA}
    ifa_households = [c["household_id"] for c in body["candidates"]]
    assert client.get(f"/v1/agency/referrals/{referral_id}").status_code == 403  # the placement officer's role
    assert agency_client.get("/v1/agency/referrals/L001-R99999").status_code == 404
    assert agency_client.get(f"/v1/referrals/{referral_id}/services").status_code == 403

    # Answers: a decline needs a reason; one naming a need gives a suggestion, confirmed.
    a, b, c = ifa_households[:3]
    url = f"/v1/agency/referrals/{referral_id}/answers"
    missing = agency_client.post(url, json={"household_id": a, "answer": "declined", "reason_text": "SECRET words"})
    assert missing.status_code == 422
    assert [tuple(e["loc"]) for e in missing.json()["detail"]] == [("body", "reason_code")]
    assert "SECRET" not in missing.text
    mine_not = agency_client.post(url, json={"household_id": _household_of(loaded_sqlite, OWN), "answer": "agreed"})
    assert mine_not.status_code == 422
    assert client.post(url, json={"household_id": a, "answer": "agreed"}).status_code == 403
    need = next(iter(body["referral"]["needs"]))
    assert agency_client.post(url, json={"household_id": a, "answer": "agreed"}).status_code == 201
    assert agency_client.post(url, json={"household_id": b, "answer": "more_information"}).status_code == 201
    declined = agency_client.post(
        url,
        json={"household_id": c, "answer": "declined", "reason_code": "needs_beyond_our_experience", "about": need},
    )
    assert declined.status_code == 201, declined.text
    suggestion_id = declined.json()["suggestion_id"]
    assert suggestion_id is not None
    listed = agency_client.get("/v1/agency/suggestions").json()
    assert [(s["id"], s["household_id"], s["code"]) for s in listed] == [(suggestion_id, c, need)]
    assert client.post(f"/v1/agency/suggestions/{suggestion_id}", json={"confirm": True}).status_code == 403
    done = agency_client.post(f"/v1/agency/suggestions/{suggestion_id}", json={"confirm": True})
    assert done.status_code == 200
    assert done.json()["state"] == "confirmed"
    assert agency_client.post(f"/v1/agency/suggestions/{suggestion_id}", json={"confirm": False}).status_code == 409
    assert agency_client.get("/v1/agency/suggestions").json() == []
    ranked_now = {
        x["household_id"] for x in agency_client.get(f"/v1/agency/referrals/{referral_id}").json()["candidates"]
    }
    assert c not in ranked_now  # the ranking respects the confirmed "will not consider" at once

    # The in-house service's officer answers for its own household.
    fostering = client_as(Role.FOSTERING_OFFICER)  # demo.fostering: LA-L001
    own = fostering.get(f"/v1/agency/referrals/{referral_id}").json()["candidates"]
    assert {x["agency_code"] for x in own} == {OWN}
    o = own[0]["household_id"]
    assert fostering.post(url, json={"household_id": o, "answer": "agreed"}).status_code == 201

    # The placement team: every answer, and the offers with the matches' own numbers.
    answers = client.get(f"/v1/referrals/{referral_id}/answers").json()
    assert {(x["household_id"], x["answer"]) for x in answers} == {
        (a, "agreed"),
        (b, "more_information"),
        (c, "declined"),
        (o, "agreed"),
    }
    assert agency_client.get(f"/v1/referrals/{referral_id}/answers").status_code == 403
    compared = manager.get(f"/v1/referrals/{referral_id}/offers")
    assert compared.status_code == 200, compared.text
    offers = compared.json()
    assert {x["household_id"] for x in offers["offers"]} == {a, o}
    matches = client.get(f"/v1/children/{offers['child_id']}/matches", params={"top": 100}).json()["candidates"]
    by_id = {m["household_id"]: m for m in matches}
    for offer in offers["offers"]:
        assert offer["explanation"] == by_id[offer["household_id"]]
    best = min(offers["offers"], key=lambda x: x["explanation"]["rank"])
    assert offers["best_ranked_household_id"] == best["household_id"]
    assert {x["household_id"] for x in offers["other_answers"]} == {b, c}
    # Outside the remit: 404 without the id.
    elsewhere = client_as("elsewhere")
    for path in ("services", "sent", "answers", "offers"):
        r = elsewhere.get(f"/v1/referrals/{referral_id}/{path}")
        assert r.status_code in (403, 404)
        assert referral_id not in r.text
    assert elsewhere.get(f"/v1/referrals/{referral_id}/offers").status_code == 404

    # Every write is in the trail, with the child.
    app_of(client).state.audit.flush()
    app_of(agency_client).state.audit.flush()
    with loaded_sqlite.connect() as conn:
        entries = recent_entries(conn, limit=1000)
    writes = [e for e in entries if e.seq > since and e.action.startswith("POST") and e.outcome in ("200", "201")]
    actions = {e.action for e in writes}
    assert any("/sent" in a for a in actions)
    assert any("/answers" in a for a in actions)
    assert any("/v1/agency/suggestions/" in a for a in actions)
    assert all(child_id in e.child_ids for e in writes if "/answers" in e.action or "/sent" in e.action)


def _household_of(engine: Engine, agency: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(schema.household.c.household_id).where(schema.household.c.agency_code == agency))
            .scalars()
            .first()
        )
