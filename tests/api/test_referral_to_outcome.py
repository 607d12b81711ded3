"""Issue 20 end to end through the API, by the three roles involved: the placement officer makes a referral and
sends it (first to IFA001, then to the in-house service); the IFA001 agency officer sees only that referral and
only IFA001's households (never the child's id) and records the carers' answers (two agreed, one declined naming a
need, which becomes a suggestion); the in-house officer could not see it until it was sent to them, then sees only
their own households and agrees one; the placement manager compares the three offers (the matches' own numbers),
decides on one that is not the best-ranked (a 422 at ``reason_codes`` without reasons, then 201), reads the
snapshot back verified, agrees the plan and records the placement started and ended (SSDA903 REC); monitoring
counts the decision, its override reason and the decline.  Each step's route refuses the wrong role (403) and
another remit (404), and every write is in the audit trail naming the child."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from matching.access import Actor, Role
from matching.accounts.tokens import issue_token
from matching.decisions.outcomes import day_in_england
from matching.store import queries
from matching.store import schema as s
from tests.api.conftest import app_of
from tests.api.test_access import audit_entries, last_seq

Factory = Callable[..., TestClient]
IFA, OWN = "IFA001", "LA-L001"
MONITORING = "/v1/monitoring/decisions"


@pytest.fixture
def agency_client(make_client: Factory, loaded_sqlite: Engine) -> TestClient:
    """The demonstration agency officer of IFA001 (demo.agency)."""
    with loaded_sqlite.begin() as conn:
        token = issue_token(conn, "demo.agency", name="tests", actor=Actor.system("tests")).token
    return make_client(None, token)


def _free_children(engine: Engine) -> tuple[list[str], str]:
    """The looked-after children of L001 with no open or matched referral (last id first), and the store's last
    record date (a referral on it leaves the store's as-at date where it was)."""
    with engine.connect() as conn:
        active = select(s.referral.c.child_id).where(s.referral.c.status.in_(("open", "matched")))
        children = list(
            conn.execute(
                select(s.child.c.child_id)
                .where(s.child.c.ceased.is_(None), s.child.c.la_code == "L001", s.child.c.child_id.not_in(active))
                .order_by(s.child.c.child_id.desc())
            ).scalars()
        )
        day = queries.as_at(conn) - timedelta(days=1)
    return children, day.isoformat()


def _refer(officer: TestClient, engine: Engine) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new referral, through the API, for a free child with at least three suitable IFA001 households and one
    in-house; a referral made for a child without them is closed again (no longer needed) and the next tried."""
    children, day = _free_children(engine)
    for child in children[:40]:
        body = {
            "child_id": child,
            "referral_date": day,
            "urgency": "within_5_days",
            "placement_type": "long_term",
            "expected_duration_days": 400,
            "wishes_text": "Wants to stay near her friends.",
        }
        r = officer.post("/v1/referrals", json=body)
        assert r.status_code == 201, r.text
        made = r.json()
        services = officer.get(f"/v1/referrals/{made['referral_id']}/services")
        assert services.status_code == 200, services.text
        by = {x["agency_code"]: x for x in services.json()}
        if by[IFA]["suitable_households"] >= 3 and by[OWN]["suitable_households"] >= 1:
            return made, services.json()
        closed = officer.post(
            f"/v1/referrals/{made['referral_id']}/status", json={"status": "closed", "reason_code": "no_longer_needed"}
        )
        assert closed.status_code == 200, closed.text
    raise AssertionError("no free child with three suitable IFA001 households and one in-house")


def _figures(client: TestClient) -> dict[str, Any]:
    r = client.get(MONITORING, params={"la_code": "L001"})
    assert r.status_code == 200, r.text
    figures: dict[str, Any] = r.json()
    return figures


def _count(rows: list[dict[str, Any]], code: str) -> int:
    return next((int(r["count"]) for r in rows if r["code"] == code), 0)


def test_referral_to_outcome_by_the_three_roles(
    client_as: Factory, agency_client: TestClient, loaded_sqlite: Engine
) -> None:
    officer = client_as(Role.PLACEMENT_OFFICER)  # demo.placement
    manager = client_as(Role.PLACEMENT_MANAGER)  # demo.manager: the officer deciding
    in_house = client_as(Role.FOSTERING_OFFICER)  # demo.fostering: LA-L001
    commissioning = client_as(Role.COMMISSIONING_LEAD)
    elsewhere = client_as("elsewhere")  # a placement officer of another authority
    before = _figures(manager)
    since = last_seq(loaded_sqlite)

    # 1. The placement officer makes the referral.
    made, services = _refer(officer, loaded_sqlite)
    rid, child = made["referral_id"], made["child_id"]
    assert (made["status"], [h["kind"] for h in made["history"]]) == ("open", ["created"])
    print(f"\nreferral {rid} for {child}: services", [(x["agency_code"], x["suitable_households"]) for x in services])
    assert services[0]["agency_code"] == OWN  # in-house first
    assert all(x["sent"] is None for x in services)
    assert manager.post("/v1/referrals", json={"child_id": child}).status_code == 403  # the manager does not refer
    assert manager.get(f"/v1/referrals/{rid}/services").status_code == 403
    assert elsewhere.get(f"/v1/referrals/{rid}/services").status_code == 404

    # 2. Sent to IFA001; the wrong roles are refused, another remit is a 404.
    send = f"/v1/referrals/{rid}/sent"
    for who in (commissioning, manager, agency_client):
        assert who.post(send, json={"agency_codes": [IFA]}).status_code == 403
    assert elsewhere.post(send, json={"agency_codes": [IFA]}).status_code == 404
    r = officer.post(send, json={"agency_codes": [IFA]})
    assert r.status_code == 201, r.text
    suitable = {x["agency_code"]: x["suitable_households"] for x in services}
    assert [(x["agency_code"], x["suitable_households"]) for x in r.json()] == [(IFA, suitable[IFA])]

    # 3. The IFA001 officer: the referral in the inbox, only IFA001's households, never the child's id.
    inbox = agency_client.get("/v1/agency/referrals", params={"limit": 500})
    assert inbox.status_code == 200
    assert rid in [x["referral_id"] for x in inbox.json()["items"]]
    assert child not in inbox.text
    seen = agency_client.get(f"/v1/agency/referrals/{rid}")
    assert seen.status_code == 200, seen.text
    assert child not in seen.text
    view = seen.json()
    candidates = view["candidates"]
    assert len(candidates) >= 3
    assert {c["agency_code"] for c in candidates} == {IFA}
    print(
        f"agency view: considered {view['considered']}, eligible {view['eligible']}, top",
        [(c["household_id"], c["rank"], c["score"]) for c in candidates[:3]],
    )
    # The in-house officer cannot see it yet (not sent to them); the placement officer cannot use the agency routes.
    assert in_house.get(f"/v1/agency/referrals/{rid}").status_code == 404
    assert rid not in [
        x["referral_id"] for x in in_house.get("/v1/agency/referrals", params={"status": "all"}).json()["items"]
    ]
    assert officer.get(f"/v1/agency/referrals/{rid}").status_code == 403

    # 4. The carers' answers: two agreed, one declined naming one of the child's needs (a suggestion).
    answers = f"/v1/agency/referrals/{rid}/answers"
    first, second, third = (c["household_id"] for c in candidates[:3])
    need = next(iter(view["referral"]["needs"]))
    assert officer.post(answers, json={"household_id": first, "answer": "agreed"}).status_code == 403
    assert in_house.post(answers, json={"household_id": first, "answer": "agreed"}).status_code == 404
    for household in (first, second):
        r = agency_client.post(answers, json={"household_id": household, "answer": "agreed"})
        assert r.status_code == 201, r.text
    r = agency_client.post(
        answers,
        json={"household_id": third, "answer": "declined", "reason_code": "needs_beyond_our_experience", "about": need},
    )
    assert r.status_code == 201, r.text
    suggestion = r.json()["suggestion_id"]
    assert suggestion is not None
    pending = {x["id"]: x for x in agency_client.get("/v1/agency/suggestions").json()}
    assert (pending[suggestion]["household_id"], pending[suggestion]["code"], pending[suggestion]["referral_id"]) == (
        third,
        need,
        rid,
    )
    assert suggestion not in [x["id"] for x in in_house.get("/v1/agency/suggestions").json()]  # not theirs
    # The service decides on the suggestion (here: rejected, the carers' list left as it is); once only.
    assert in_house.post(f"/v1/agency/suggestions/{suggestion}", json={"confirm": False}).status_code == 404
    r = agency_client.post(f"/v1/agency/suggestions/{suggestion}", json={"confirm": False})
    assert (r.status_code, r.json()["state"]) == (200, "rejected")
    assert suggestion not in [x["id"] for x in agency_client.get("/v1/agency/suggestions").json()]
    print(f"answers: agreed {first}, {second}; declined {third} about {need!r} -> suggestion {suggestion}")

    # 5. Sent to the in-house service too: its officer sees only its own households and answers, agrees one.
    r = officer.post(send, json={"agency_codes": [OWN]})
    assert r.status_code == 201, r.text
    assert [x["agency_code"] for x in officer.get(send).json()] == [IFA, OWN]
    own_view = in_house.get(f"/v1/agency/referrals/{rid}")
    assert own_view.status_code == 200, own_view.text
    assert child not in own_view.text
    own = own_view.json()
    assert {c["agency_code"] for c in own["candidates"]} == {OWN}
    assert own["answers"] == []  # IFA001's answers are not theirs to see
    fourth = own["candidates"][0]["household_id"]
    assert in_house.post(answers, json={"household_id": first, "answer": "agreed"}).status_code == 422  # not theirs
    r = in_house.post(answers, json={"household_id": fourth, "answer": "agreed"})
    assert r.status_code == 201, r.text
    assert [a["household_id"] for a in agency_client.get(f"/v1/agency/referrals/{rid}").json()["answers"]] == [
        first,
        second,
        third,
    ]

    # 6. The placement manager compares the three offers: the matches' own numbers.
    assert agency_client.get(f"/v1/referrals/{rid}/offers").status_code == 403
    assert elsewhere.get(f"/v1/referrals/{rid}/offers").status_code == 404
    compared = manager.get(f"/v1/referrals/{rid}/offers")
    assert compared.status_code == 200, compared.text
    offers = compared.json()
    assert offers["child_id"] == child
    assert {o["household_id"] for o in offers["offers"]} == {first, second, fourth}
    matches = officer.get(f"/v1/children/{child}/matches", params={"top": 100})
    assert matches.status_code == 200, matches.text
    assert matches.json()["referral_id"] == rid
    by_id = {m["household_id"]: m for m in matches.json()["candidates"]}
    compared_with_matches = 0
    for o in offers["offers"]:
        if o["household_id"] in by_id:
            assert o["explanation"] == by_id[o["household_id"]]
            compared_with_matches += 1
    assert compared_with_matches >= 1
    ranked = sorted((o for o in offers["offers"] if o["explanation"]), key=lambda o: o["explanation"]["rank"])
    best = offers["best_ranked_household_id"]
    assert best == ranked[0]["household_id"]
    print(
        f"offers (considered {offers['considered']}, eligible {offers['eligible']}, model {offers['model']}):",
        [(o["household_id"], o["agency_code"], o["explanation"]["rank"], o["explanation"]["score"]) for o in ranked],
        f"best-ranked {best}; {compared_with_matches} equal to the matches",
    )
    assert [(a["household_id"], a["answer"]) for a in offers["other_answers"]] == [(third, "declined")]

    # 7. The decision on an offer that is not the best-ranked: a 422 at reason_codes without reasons, then 201.
    chosen = ranked[1]
    decide = f"/v1/referrals/{rid}/decisions"
    body: dict[str, Any] = {
        "outcome": "household_chosen",
        "named_officer": "Sam Jones, Head of Placements",
        "household_id": chosen["household_id"],
        "accepted_warnings": [w["code"] for w in chosen["explanation"]["warnings"]],
    }
    for who in (agency_client, commissioning):
        assert who.post(decide, json=body).status_code == 403
    assert elsewhere.post(decide, json=body).status_code == 404
    r = manager.post(decide, json=body)
    assert r.status_code == 422, r.text
    assert [tuple(e["loc"]) for e in r.json()["detail"]] == [("body", "reason_codes")]
    print("without reasons:", r.json()["detail"][0]["msg"])
    body |= {"reason_codes": ["school_stability"], "reason_text": "She can stay at her school."}
    r = manager.post(decide, json=body)
    assert r.status_code == 201, r.text
    decision = r.json()
    assert (decision["household_id"], decision["best_ranked_household_id"], decision["departs_from_ranking"]) == (
        chosen["household_id"],
        best,
        True,
    )
    assert (decision["named_officer"], decision["recorded_by"]) == ("Sam Jones, Head of Placements", "demo.manager")
    sha = decision["snapshot_sha256"]
    print(f"decision {decision['id']} on {chosen['household_id']} (best-ranked {best}), snapshot {sha}")

    # 8. The snapshot, verified, holds the offers as shown.
    assert elsewhere.get(f"/v1/decisions/snapshots/{sha}").status_code == 404
    assert agency_client.get(f"/v1/decisions/snapshots/{sha}").status_code == 403
    snap = manager.get(f"/v1/decisions/snapshots/{sha}")
    assert snap.status_code == 200, snap.text
    assert snap.json()["verified"] is True
    payload = snap.json()["payload"]
    assert payload["ranking"]["child_id"] == child
    assert {o["household_id"] for o in payload["offers"]} == {first, second, fourth}

    # The household chosen matched the referral, by the manager who recorded it: no longer open, it leaves the
    # agency's inbox of open referrals and the agency sees no ranking for it any more.
    seen = officer.get(f"/v1/referrals/{rid}").json()
    assert seen["status"] == "matched"
    last = officer.get(f"/v1/referrals/{rid}/history").json()[-1]
    assert (last["status_from"], last["status_to"], last["changed_by"]) == ("open", "matched", "demo.manager")
    status = f"/v1/referrals/{rid}/status"
    assert manager.post(status, json={"status": "open", "reason_code": "decision_changed"}).status_code == 403
    assert rid not in [x["referral_id"] for x in agency_client.get("/v1/agency/referrals").json()["items"]]
    assert agency_client.get(f"/v1/agency/referrals/{rid}").json()["candidates"] == []

    # 9. The placement plan: the draft, then agreed by the manager.
    plan = f"/v1/decisions/{decision['id']}/plan"
    assert elsewhere.post(f"{plan}/agreed").status_code == 404
    assert agency_client.post(f"{plan}/agreed").status_code == 403
    draft = manager.get(plan)
    assert draft.status_code == 200, draft.text
    assert (draft.json()["version"], draft.json()["state"]) == (0, "draft")
    r = manager.post(f"{plan}/agreed")
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["edited_by"]) == ("agreed", "demo.manager")
    print(f"plan: version {r.json()['version']} agreed, {len(r.json()['sections'])} sections")

    # 10. The placement started, then ended (SSDA903 REC).
    outcomes = f"/v1/decisions/{decision['id']}/outcomes"
    today = day_in_england(datetime.now(UTC)).isoformat()
    assert elsewhere.post(outcomes, json={"kind": "started", "on": today}).status_code == 404
    assert agency_client.post(outcomes, json={"kind": "started", "on": today}).status_code == 403
    assert manager.post(outcomes, json={"kind": "started", "on": today}).status_code == 201
    r = manager.post(outcomes, json={"kind": "ended", "on": today, "reason": "E4A"})
    assert r.status_code == 201, r.text
    placement = manager.get(outcomes).json()
    assert (placement["state"], placement["started_on"], placement["ended_on"], placement["reason"]) == (
        "ended",
        today,
        today,
        "E4A",
    )
    print(
        f"placement: {placement['state']} {placement['started_on']} to {placement['ended_on']} ({placement['reason']})"
    )

    # 11. Monitoring counts the decision: the best-ranked offer not chosen, its reason, the decline.
    after = _figures(manager)
    assert after["decisions_recorded"] == before["decisions_recorded"] + 1
    assert after["household_chosen"] == before["household_chosen"] + 1
    assert after["best_ranked_chosen"] == before["best_ranked_chosen"]
    assert (
        _count(after["override_reasons"], "school_stability")
        == _count(before["override_reasons"], "school_stability") + 1
    )
    o_before, o_after = before["outcomes"], after["outcomes"]
    assert o_after["declines"] == o_before["declines"] + 1
    assert _count(o_after["decline_reasons"], "needs_beyond_our_experience") == (
        _count(o_before["decline_reasons"], "needs_beyond_our_experience") + 1
    )
    assert (o_after["referrals"], o_after["offers"]) == (o_before["referrals"] + 1, o_before["offers"] + 3)
    assert o_after["calibration"]["started"] == o_before["calibration"]["started"] + 1
    assert child not in str(after)
    print(
        "monitoring L001: decisions",
        before["decisions_recorded"],
        "->",
        after["decisions_recorded"],
        "best-ranked chosen",
        after["best_ranked_chosen"],
        "share",
        after["best_ranked_share"],
        "school_stability",
        _count(after["override_reasons"], "school_stability"),
        "declines",
        o_before["declines"],
        "->",
        o_after["declines"],
        "offers",
        o_before["offers"],
        "->",
        o_after["offers"],
    )
    assert commissioning.get(MONITORING, params={"la_code": "L001"}).status_code == 200
    assert agency_client.get(MONITORING).status_code == 403

    # Every write is in the trail, by the one who made it and naming the child; the one exception is the decision
    # on the "will not consider" suggestion, a write to a household's list that names the suggestion, not a child.
    for client in (manager, agency_client, in_house):
        app_of(client).state.audit.flush()
    writes = [
        e
        for e in audit_entries(loaded_sqlite, since)
        if e.action.split()[0] in ("POST", "PUT", "PATCH") and e.outcome in ("200", "201")
    ]
    ours = [e for e in writes if child in e.child_ids or e.detail == f"suggestion {suggestion} rejected"]
    print("audited writes:", len(ours), [(e.username, e.action.split("/")[-1], e.outcome) for e in ours])
    expected = [
        ("demo.placement", "POST /v1/referrals", True),
        ("demo.placement", "POST /v1/referrals/{referral_id}/sent", True),
        ("demo.agency", "POST /v1/agency/referrals/{referral_id}/answers", True),
        ("demo.agency", "POST /v1/agency/referrals/{referral_id}/answers", True),
        ("demo.agency", "POST /v1/agency/referrals/{referral_id}/answers", True),
        ("demo.agency", "POST /v1/agency/suggestions/{suggestion_id}", False),
        ("demo.placement", "POST /v1/referrals/{referral_id}/sent", True),
        ("demo.fostering", "POST /v1/agency/referrals/{referral_id}/answers", True),
        ("demo.manager", "POST /v1/referrals/{referral_id}/decisions", True),
        ("demo.manager", "POST /v1/decisions/{decision_id}/plan/agreed", True),
        ("demo.manager", "POST /v1/decisions/{decision_id}/outcomes", True),
        ("demo.manager", "POST /v1/decisions/{decision_id}/outcomes", True),
    ]
    found = [(e.username, e.action, child in e.child_ids) for e in ours]
    # Each client's app has its own audit writer, which keeps its own order; between writers, the order entries
    # reach the trail depends on when each thread commits (under load, not the order of the requests).
    assert sorted(found) == sorted(expected)
    for user in {u for u, _, _ in expected}:
        assert [f for f in found if f[0] == user] == [e for e in expected if e[0] == user], user
    assert all("Wants to stay" not in (e.detail or "") for e in writes)  # no free text in the trail
