"""The matching endpoints: shapes, 404 (never echoing the id), 422 naming each field, empty results with reasons."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.match_schemas import CarerMatchesOut, MatchResultOut

REQUIRED = {"household_id", "rank", "score", "tier", "factors", "needs_met", "gaps", "warnings"}
ON = "2026-04-01"


def referral(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child": {  # a child not yet recorded: no child_id (a stored child's id must be in the remit)
            "la_code": "L001",
            "birth_month": "2014-05",
            "sex": "F",
            "ethnicity": "WBRI",
            "home": {"easting": 450000, "northing": 300000},
        },
        "needs": {"self_harm": 2, "trauma_attachment": 3},
        "placement_type": "long_term",
        "risks_to_child": ["self_harm"],
        "placement_date": ON,
    }
    body.update(kw)
    return body


def test_matches_for_a_stored_child(client: TestClient) -> None:
    r = client.get("/v1/children/L001-C00002/matches", params={"top": 5, "on": ON})
    assert r.status_code == 200
    body = r.json()
    assert body["child_id"] == "L001-C00002"
    assert 0 < len(body["candidates"]) <= 5
    assert [c["rank"] for c in body["candidates"]] == list(range(1, len(body["candidates"]) + 1))
    for c in body["candidates"]:
        assert set(c) >= REQUIRED
        assert abs(sum(f["contribution"] for f in c["factors"]) - c["score"]) < 1e-6
    assert sum(body["excluded_counts"].values()) > 0
    assert body["considered"] > body["eligible"]
    MatchResultOut.model_validate(body)  # the documented shape


def test_nearest_misses_on_request(client: TestClient) -> None:
    params = {"on": ON, "top": 3}
    assert client.get("/v1/children/L001-C00002/matches", params=params).json()["nearest_misses"] == []
    body = client.get("/v1/children/L001-C00002/matches", params=params | {"near_misses": True}).json()
    assert 0 < len(body["nearest_misses"]) <= 10
    assert all(m["rule"] in body["excluded_counts"] for m in body["nearest_misses"])


def test_excluded_list_on_request(client: TestClient) -> None:
    body = client.get("/v1/children/L001-C00002/matches", params={"on": ON, "excluded": True}).json()
    assert len(body["excluded"]) == body["considered"] - body["eligible"]
    MatchResultOut.model_validate(body)
    assert all(e["reasons"] for e in body["excluded"])


def test_adhoc_referral(client: TestClient) -> None:
    r = client.post("/v1/matches", params={"top": 3}, json=referral())
    assert r.status_code == 200
    body = r.json()
    assert len(body["candidates"]) == 3
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)


def test_child_with_no_eligible_household_gets_an_empty_list_and_reasons(client: TestClient) -> None:
    r = client.post(
        "/v1/matches",
        json=referral(needs_adaptation=True, dolo=True, live_alongside="solo", allergies=["dog"], max_distance_miles=1),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["candidates"] == []
    assert body["eligible"] == 0
    assert body["excluded_counts"]["distance"] > 0
    assert isinstance(body["nearest_misses"], list)


def test_invalid_referral_names_each_field(client: TestClient) -> None:
    bad = referral(placement_type="forever", needed_by="yesterday", max_distance_miles=-3)
    bad["child"]["sex"] = "X"
    bad["placement_date"] = 20000  # a number is never a date (not days or seconds since 1970)
    r = client.post("/v1/matches", json=bad)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert {
        ("body", "placement_type"),
        ("body", "needed_by"),
        ("body", "max_distance_miles"),
        ("body", "child", "sex"),
        ("body", "placement_date"),
    } <= locs


def test_contradictory_referral_is_422(client: TestClient) -> None:
    bad = referral(
        needs={"telepathy": 2, "self_harm": 7},
        suitable_for=["supported_accommodation"],
        siblings_to_place_with=[{"child_id": "X1", "birth_month": "2015-01", "sex": "M"}],
    )
    bad["child"]["birth_month"] = "2030-01"
    bad["child"]["child_id"] = "X1"  # the sibling is the child itself
    r = client.post("/v1/matches", json=bad)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert {
        ("body", "child", "birth_month"),
        ("body", "needs", "telepathy"),
        ("body", "needs", "self_harm"),
        ("body", "siblings_to_place_with", 0, "child_id"),
    } <= locs
    older = referral(suitable_for=["supported_accommodation"])
    older["child"]["birth_month"] = "2002-01"  # 24: outside 0-17
    assert client.post("/v1/matches", json=older).status_code == 422
    young = referral(suitable_for=["supported_accommodation"])
    r = client.post("/v1/matches", json=young)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "suitable_for"]]


def test_unknown_ids_are_404_without_echoing_the_id(client: TestClient) -> None:
    r = client.get("/v1/children/NOPE-9/matches")
    assert r.status_code == 404
    assert r.json()["detail"] == "no child with that id in your remit"
    r = client.get("/v1/carers/NOPE-8/matches")
    assert r.status_code == 404
    assert r.json()["detail"] == "no household with that id in your remit"


def test_carer_matches(client: TestClient) -> None:
    households = client.get("/v1/households", params={"limit": 500}).json()["items"]
    with_vacancy = next(h for h in households if h["vacancies"] > 0 and not h["is_kinship"] and h["status"] == "active")
    r = client.get(f"/v1/carers/{with_vacancy['household_id']}/matches", params={"on": ON, "top": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["household_id"] == with_vacancy["household_id"]
    CarerMatchesOut.model_validate(body)
    assert body["considered"] > 0
    assert len(body["candidates"]) + sum(body["excluded_counts"].values()) >= 1


def test_query_parameters_are_validated(client: TestClient) -> None:
    r = client.get("/v1/children/L001-C00002/matches", params={"top": 0, "on": "not-a-date"})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("query", "top"), ("query", "on")}
