"""The placement plan through the API: drafted from a decision, saved as versions, agreed by a named officer
(then final: 409); no plan for a decision that chose no household (409); remit (404) and role (403) enforced;
each write audited before it is committed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from matching.decisions.plan import HEADINGS, MAX_SECTION, SECTION_KEYS
from tests.api.conftest import app_of
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
    for client in (officer, manager):  # the decision's own entry is written before the count starts
        app_of(client).state.audit.flush()
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
    writes = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith(("PUT", "POST"))]
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


# --- The pages ------------------------------------------------------------------------------------------


def test_the_plan_pages_edit_with_every_problem_then_save_and_agree(
    page_client_as: Factory, client: TestClient, loaded_sqlite: Engine
) -> None:
    import re

    decision, item = _decide(client)
    browser = page_client_as(Role.PLACEMENT_MANAGER)
    assert 'id="placement-plan"' in browser.get(f"/pages/decisions/{decision['id']}").text
    url = f"/pages/decisions/{decision['id']}/plan"
    page = browser.get(url)
    assert page.status_code == 200, page.text
    assert "The placement plan" in page.text
    assert "/static/print.css" in page.text
    assert "Agree this plan" in page.text
    assert item["child_id"] in page.text
    form = browser.get(f"{url}/edit")
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    texts = dict.fromkeys(SECTION_KEYS, "Written by the team.") | {"school": "x" * (MAX_SECTION + 1)}
    since = last_seq(loaded_sqlite)
    r = browser.post(f"{url}/edit", data={"csrf_token": token, **texts}, follow_redirects=False)
    assert r.status_code == 422
    assert "There is a problem" in r.text
    assert 'href="#school"' in r.text
    assert browser.post(f"{url}/edit", data=texts, follow_redirects=False).status_code == 403  # no token
    texts["school"] = "Stays at school: the carers drive."
    r = browser.post(f"{url}/edit", data={"csrf_token": token, **texts}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, url)
    r = browser.post(f"{url}/agreed", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = browser.get(url)
    assert "Agreed" in page.text
    assert "Agree this plan" not in page.text
    assert "Stays at school" in page.text
    assert browser.get(f"{url}/edit").status_code == 409
    writes = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith("POST /pages")]
    assert [e.outcome for e in writes if e.outcome == "303"] == ["303", "303"]
    none, _ = _decide(client, "no_household")
    assert browser.get(f"/pages/decisions/{none['id']}/plan").status_code == 409
    assert 'id="placement-plan"' not in browser.get(f"/pages/decisions/{none['id']}").text


def test_the_plan_downloads_as_a_pdf_holding_every_section_as_typed(
    page_client_as: Factory, client: TestClient
) -> None:
    import io

    from pypdf import PdfReader

    decision, _ = _decide(client)
    url = f"/v1/decisions/{decision['id']}/plan"
    typed = "Zoë’s carers – a café near school, ‘Saturday’ contact"
    sections = dict.fromkeys(SECTION_KEYS, "Written by the team.") | {"contact": typed}
    assert client.put(url, json={"sections": sections}).status_code == 201
    browser = page_client_as(Role.PLACEMENT_MANAGER)
    pdf = browser.get(f"/pages/decisions/{decision['id']}/plan.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="placement-plan-{decision["id"]}-v1.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.split())
    for key in SECTION_KEYS:
        assert HEADINGS[key] in flat, key
    assert " ".join(typed.split()) in flat  # accents, curly quotes and dashes as typed
    assert decision["household_id"] in flat
    none, _ = _decide(client, "no_household")
    assert browser.get(f"/pages/decisions/{none['id']}/plan.pdf").status_code == 409
    assert page_client_as(Role.COMMISSIONING_LEAD).get(f"/pages/decisions/{decision['id']}/plan.pdf").status_code == 403


def test_a_plan_with_every_section_at_its_longest_is_saved_through_the_api_and_the_page(
    client: TestClient, page_client_as: Factory
) -> None:
    import re

    # Each section may hold MAX_SECTION characters: the body is then far over the default 64 KB limit, and the
    # service must still take it (it refused it with a 413 before), also in characters whose escapes are long.
    decision, _ = _decide(client)
    longest = dict.fromkeys(SECTION_KEYS, "é😀" * (MAX_SECTION // 2))
    r = client.put(f"/v1/decisions/{decision['id']}/plan", json={"sections": longest})
    assert r.status_code == 201, r.text[:200]
    assert r.json()["sections"][0]["text"] == longest[SECTION_KEYS[0]]
    browser = page_client_as(Role.PLACEMENT_MANAGER)
    url = f"/pages/decisions/{decision['id']}/plan/edit"
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text).group(1)  # type: ignore[union-attr]
    saved = browser.post(url, data={"csrf_token": token, **longest}, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:300]
    # one character more than a whole plan can hold is still refused, as too large, before it is read
    huge = {"sections": {**longest, "x": "😀" * 400_000}}
    assert client.put(f"/v1/decisions/{decision['id']}/plan", json=huge).status_code == 413
