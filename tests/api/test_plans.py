"""The placement plan through the API: drafted from a decision, saved as versions, agreed by a named officer
(then final: 409); no plan for a decision that chose no household (409); remit (404) and role (403) enforced;
each write audited before it is committed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from matching.decisions.plan import MAX_SECTION, SECTION_KEYS
from tests.api.test_access import audit_entries, last_seq
from tests.api.test_outcomes import _decide

Factory = Callable[..., TestClient]


def test_a_plan_is_drafted_saved_as_versions_and_agreed_and_each_write_is_audited(
    client_as: Factory, loaded_sqlite: Engine
) -> None:
    officer, manager = client_as(Role.PLACEMENT_OFFICER), client_as(Role.PLACEMENT_MANAGER)
    decision, item = _decide(officer)
    path = f"/v1/decisions/{decision['id']}/plan"
    draft = officer.get(path)
    assert draft.status_code == 200, draft.text
    plan = draft.json()
    assert (plan["version"], plan["state"], plan["edited_by"]) == (0, "draft", "service")
    assert [s["key"] for s in plan["sections"]] == list(SECTION_KEYS)
    assert item["child_id"] in plan["sections"][0]["text"]
    assert officer.get(f"{path}/versions").json() == []
    since = last_seq(loaded_sqlite)
    texts = {s["key"]: s["text"] for s in plan["sections"]} | {"contact": "Weekly, supervised, at the family centre."}
    r = officer.put(path, json={"sections": texts})
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["state"], r.json()["edited_by"]) == (1, "draft", "demo.placement")
    r = manager.post(f"{path}/agreed")
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["state"], r.json()["edited_by"]) == (2, "agreed", "demo.manager")
    assert r.json()["sections"][6]["text"] == "Weekly, supervised, at the family centre."
    assert officer.put(path, json={"sections": texts}).status_code == 409
    assert manager.post(f"{path}/agreed").status_code == 409
    assert [v["state"] for v in officer.get(f"{path}/versions").json()] == ["draft", "agreed"]
    assert officer.get(path).json()["version"] == 2
    writes = [e for e in audit_entries(officer, loaded_sqlite, since) if e.action.startswith(("PUT", "POST"))]
    assert [(e.outcome, e.child_ids) for e in writes if e.outcome == "201"] == [("201", (item["child_id"],))] * 2
    assert all(e.detail and "placement plan version" in e.detail for e in writes if e.outcome == "201")


def test_bad_sections_are_a_422_naming_each_and_nothing_is_saved(client: TestClient) -> None:
    decision, _ = _decide(client)
    path = f"/v1/decisions/{decision['id']}/plan"
    texts = dict.fromkeys(SECTION_KEYS, "fine")
    del texts["needs"]
    texts["favourite"] = "blue"
    r = client.put(path, json={"sections": texts})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {
        ("body", "sections", "needs"),
        ("body", "sections", "favourite"),
    }
    too_long = dict.fromkeys(SECTION_KEYS, "fine") | {"school": "x" * (MAX_SECTION + 1)}
    assert client.put(path, json={"sections": too_long}).status_code == 422
    assert "blue" not in r.text  # free text is never echoed
    assert client.get(f"{path}/versions").json() == []


def test_no_household_no_plan_and_remit_and_role_are_enforced(client_as: Factory, client: TestClient) -> None:
    none, _ = _decide(client, "no_household")
    for method, suffix in (("GET", ""), ("POST", "/agreed"), ("GET", "/versions")):
        assert client.request(method, f"/v1/decisions/{none['id']}/plan{suffix}").status_code == 409
    assert (
        client.put(f"/v1/decisions/{none['id']}/plan", json={"sections": dict.fromkeys(SECTION_KEYS, "x")}).status_code
        == 409
    )
    decision, _ = _decide(client)
    path = f"/v1/decisions/{decision['id']}/plan"
    elsewhere = client_as("elsewhere")
    assert elsewhere.get(path).status_code == 404
    assert elsewhere.post(f"{path}/agreed").status_code == 404
    assert elsewhere.put(path, json={"sections": dict.fromkeys(SECTION_KEYS, "x")}).status_code == 404
    for role in (Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD, Role.AUDITOR, Role.ADMINISTRATOR):
        assert client_as(role).get(path).status_code == 403, role
        assert client_as(role).post(f"{path}/agreed").status_code == 403, role
    assert client.get("/v1/decisions/2000000000/plan").status_code == 404
    assert client.get(f"{path}/versions").json() == []
