"""The read API: health, pagination, 404 (never echoing the id), 422 with the field path, scope."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"


def test_children_are_paginated(client: TestClient) -> None:
    first = client.get("/v1/children", params={"limit": 20}).json()
    second = client.get("/v1/children", params={"limit": 20, "offset": 20}).json()
    assert first["total"] == second["total"] == 500
    assert len(first["items"]) == len(second["items"]) == 20
    assert first["items"][-1]["child_id"] < second["items"][0]["child_id"]


def test_child_view_is_pseudonymous(client: TestClient) -> None:
    child = client.get("/v1/children/L001-C00002").json()
    assert child["child_id"] == "L001-C00002"
    assert len(child["birth_month"]) == 7  # YYYY-MM: never a full date of birth
    assert "name" not in child
    assert 0 <= child["age"] <= 18


def test_unknown_child_is_404_without_echoing_the_id(client: TestClient) -> None:
    r = client.get("/v1/children/NOPE-1")
    assert r.status_code == 404
    assert "NOPE-1" not in r.text
    assert r.json()["detail"] == "no child with that id in your remit"


def test_bad_query_is_422_naming_the_field(client: TestClient) -> None:
    r = client.get("/v1/households", params={"limit": 0, "offset": -1})
    assert r.status_code == 422
    locations = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert locations == {("query", "limit"), ("query", "offset")}


def test_households_show_terms_vacancies_and_training(client: TestClient) -> None:
    page = client.get("/v1/households", params={"limit": 500}).json()
    assert page["total"] == len(page["items"])
    h = next(x for x in page["items"] if x["training"])
    assert h["terms"]["places"] >= 1
    assert h["vacancies"] == max(0, h["terms"]["places"] - h["foster_children"])
    assert all(isinstance(t["current"], bool) for t in h["training"])
    assert client.get(f"/v1/households/{h['household_id']}").json() == h


def test_scope_hides_what_is_out_of_remit(scoped_client: TestClient) -> None:
    assert scoped_client.get("/v1/children").json()["total"] == 0
    assert scoped_client.get("/v1/children/L001-C00002").status_code == 404
    households = scoped_client.get("/v1/households", params={"limit": 500}).json()["items"]
    assert households
    assert {h["agency_code"] for h in households} == {"LA-L001"}


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/v1/children", "/v1/children/{child_id}", "/v1/households"} <= set(paths)
