"""The pages where a placement officer records the decision a named officer made: the form shows the ranking the
API would freeze, problems come back as the API's 422 messages, a decision is recorded exactly as the API records
one (audited), and the decision's page shows what was shown, its hash checked; remit, role and CSRF enforced."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user, get_user
from matching.decisions import canonical_json
from matching.store import schema
from tests.api.test_access import audit_entries, last_seq
from tests.api.test_admin_pages import csrf_of
from tests.api.test_decisions import _referral_with_two_candidates

PageClientAs = Callable[..., TestClient]
OFFICER = "Sam Jones, Head of Placements"


def _summary(text: str) -> list[str]:
    """The error summary's messages, as a person reads them."""
    block = re.search(r'<div class="govuk-error-summary__body">(.*?)</div>', text, re.S)
    assert block is not None, "no error summary"
    return [html.unescape(m) for m in re.findall(r"<li><a href=\"#[^\"]+\">([^<]+)</a></li>", block.group(1))]


def _shown(text: str, table: str) -> list[tuple[str, int, float]]:
    """(household, rank, score) of each row of a ranking table on a page."""
    block = re.search(rf'<table[^>]* id="{table}">(.*?)</table>', text, re.S)
    assert block is not None, table
    rows = re.findall(r'data-household="([^"]+)" data-rank="(\d+)" data-score="([0-9.]+)"', block.group(1))
    return [(h, int(r), float(s)) for h, r, s in rows]


def _form(page_client: TestClient, referral_id: str) -> str:
    r = page_client.get(f"/pages/referrals/{referral_id}/decision")
    assert r.status_code == 200, r.text
    return r.text


def _post(page_client: TestClient, referral_id: str, fields: list[tuple[str, str]], csrf: str | None) -> Any:
    data = ([("csrf_token", csrf)] if csrf is not None else []) + fields
    return page_client.post(
        f"/pages/referrals/{referral_id}/decision",
        content="&".join(f"{k}={v}" for k, v in _encoded(data)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def _encoded(data: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(quote_plus(k), quote_plus(v)) for k, v in data]


def test_the_form_shows_the_ranking_the_api_would_freeze_and_says_what_it_records(
    client: TestClient, page_client: TestClient
) -> None:
    item, _ = _referral_with_two_candidates(client)
    api = client.get(f"/v1/children/{item['child_id']}/matches", params={"top": 25}).json()
    text = _form(page_client, item["referral_id"])
    assert _shown(text, "ranking-now-table") == [(c["household_id"], c["rank"], c["score"]) for c in api["candidates"]]
    assert "The service places no child." in text
    # every ranked household is a choice, with "another household" and "no household"
    choices = re.findall(r'name="choice" type="radio" value="([^"]+)"', text)
    assert choices == [f"ranked:{c['household_id']}" for c in api["candidates"]] + ["other", "none"]
    # without JavaScript both groups of reasons, and every household's warnings labelled with it, are on the form
    assert len(re.findall(r'name="override_reason" type="checkbox"', text)) == 11
    assert len(re.findall(r'name="no_household_reason" type="checkbox"', text)) == 6
    warnings = re.findall(r'name="accepted_warning" type="checkbox" value="([^"]+)"', text)
    assert warnings == [f"{c['household_id']}:{w['code']}" for c in api["candidates"] for w in c["warnings"]]
    assert 'name="named_officer"' in text
    assert 'name="reason_text"' in text


def test_an_incomplete_decision_is_422_with_the_apis_messages_linked_to_the_fields(
    client: TestClient, page_client: TestClient
) -> None:
    item, matches = _referral_with_two_candidates(client)
    second = matches["candidates"][1]["household_id"]
    csrf = csrf_of(_form(page_client, item["referral_id"]))
    before = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()
    r = _post(page_client, item["referral_id"], [("choice", f"ranked:{second}"), ("named_officer", " ")], csrf)
    assert r.status_code == 422
    assert "<title>Error: Record the decision" in r.text
    api = client.post(
        f"/v1/referrals/{item['referral_id']}/decisions",
        json={"outcome": "household_chosen", "named_officer": " ", "household_id": second},
    )
    assert api.status_code == 422
    assert _summary(r.text) == [e["msg"] for e in api.json()["detail"]]
    assert "Enter the name and job title of the officer who made the decision" in _summary(r.text)
    assert any(m.startswith("Give the reasons: the household was ranked 2, not first") for m in _summary(r.text))
    assert 'href="#named_officer"' in r.text
    assert 'href="#override_reason-child_wishes"' in r.text
    assert 'id="named_officer-error"' in r.text
    assert 'id="override_reason-error"' in r.text
    assert f'value="ranked:{second}" checked' in r.text  # what was chosen stays chosen
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json() == before  # nothing recorded
    # nothing chosen at all, and an unranked household without its id
    nothing = _post(page_client, item["referral_id"], [("named_officer", OFFICER)], csrf)
    assert nothing.status_code == 422
    assert _summary(nothing.text) == ["Choose whether a household was chosen or no household"]
    other = _post(page_client, item["referral_id"], [("choice", "other"), ("named_officer", OFFICER)], csrf)
    assert _summary(other.text) == ["Choose the household"]
    assert 'href="#other_household"' in other.text
    bad = _post(
        page_client,
        item["referral_id"],
        [("choice", "other"), ("other_household", "not a household!"), ("named_officer", OFFICER)],
        csrf,
    )
    assert bad.status_code == 422
    assert _summary(bad.text)[0].startswith("Enter the household's id as the service shows it")
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json() == before


def _same_ranking(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "taken_at"} == {k: v for k, v in b.items() if k != "taken_at"}


def test_a_decision_is_recorded_as_the_api_records_it_audited_and_shown_with_what_was_shown(
    client: TestClient, page_client: TestClient, loaded_sqlite: Engine
) -> None:
    item, matches = _referral_with_two_candidates(client)
    second = matches["candidates"][1]
    codes = [w["code"] for w in second["warnings"]]
    csrf = csrf_of(_form(page_client, item["referral_id"]))
    since = last_seq(loaded_sqlite)
    fields = [
        ("choice", f"ranked:{second['household_id']}"),
        ("named_officer", OFFICER),
        ("override_reason", "school_stability"),
        ("override_reason", "child_wishes"),
        ("no_household_reason", "no_offer"),  # the other outcome's reasons are not the decision's
        ("reason_text", "Keeps her at her school.\nShe asked to stay near her friends."),
        *(("accepted_warning", f"{second['household_id']}:{c}") for c in codes),
        ("accepted_warning", f"{matches['candidates'][0]['household_id']}:out_of_area"),  # another household's
    ]
    r = _post(page_client, item["referral_id"], fields, csrf)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    decision_id = int(location.rsplit("/", 1)[1])
    assert location == f"/pages/decisions/{decision_id}"
    recorded = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()[-1]
    assert recorded["id"] == decision_id
    # a household chosen matches the referral: the child no longer waits; a changed mind reopens it first
    assert client.get(f"/v1/referrals/{item['referral_id']}").json()["status"] == "matched"
    again = {"outcome": "no_household", "named_officer": OFFICER, "reason_codes": ["no_offer"]}
    assert client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=again).status_code == 409
    reopened = client.post(
        f"/v1/referrals/{item['referral_id']}/status", json={"status": "open", "reason_code": "decision_changed"}
    )
    assert reopened.status_code == 200, reopened.text
    # the same decision through the API: the same record, on the same ranking
    api = client.post(
        f"/v1/referrals/{item['referral_id']}/decisions",
        json={
            "outcome": "household_chosen",
            "named_officer": OFFICER,
            "household_id": second["household_id"],
            "reason_codes": ["school_stability", "child_wishes"],
            "reason_text": "Keeps her at her school.\nShe asked to stay near her friends.",
            "accepted_warnings": codes,
        },
    ).json()
    different = {"id", "decided_at", "snapshot_sha256"}
    assert {k: v for k, v in recorded.items() if k not in different} == {
        k: v for k, v in api.items() if k not in different
    }
    assert recorded["departs_from_ranking"] is True
    assert recorded["recorded_by"] == "demo.placement"
    page_snap = client.get(f"/v1/decisions/snapshots/{recorded['snapshot_sha256']}").json()
    api_snap = client.get(f"/v1/decisions/snapshots/{api['snapshot_sha256']}").json()
    assert _same_ranking(page_snap["payload"], api_snap["payload"])
    # audited as the API audits: the child, before the decision was committed
    entries = [e for e in audit_entries(loaded_sqlite, since) if e.action.startswith("POST /pages/")]
    assert [(e.outcome, e.child_ids) for e in entries] == [("303", (item["child_id"],))]

    # the decision's page
    page = page_client.get(location)
    assert page.status_code == 200
    text = page.text
    assert OFFICER in text
    assert "demo.placement" in text
    assert f'href="/pages/households/{second["household_id"]}"' in text
    assert "Keeps the child at their school" in text
    assert "The child&#39;s wishes and feelings" in text
    assert re.search(r'id="decision-departs">Yes<', text)
    assert f'id="snapshot-sha256">{recorded["snapshot_sha256"]}<' in text
    assert 'id="snapshot-verified">Verified<' in text
    payload = page_snap["payload"]
    assert _shown(text, "shown-table") == [
        (c["household_id"], c["rank"], c["score"]) for c in payload["ranking"]["candidates"]
    ]
    assert f'id="snapshot-weights">{payload["fit_config_version"]}<' in text
    for w in second["warnings"]:
        assert html.escape(w["message"]) in text
    assert 'href="/static/print.css" media="print"' in text
    # the child's page lists it, linked; the referral is matched, so the matches page no longer offers the form
    child = page_client.get(f"/pages/children/{item['child_id']}").text
    assert f'<a class="govuk-link" href="/pages/decisions/{decision_id}">' in child
    matches_page = page_client.get(f"/pages/children/{item['child_id']}/matches").text
    assert f'href="/pages/referrals/{item["referral_id"]}/decision"' not in matches_page


def test_a_no_household_decision_is_recorded(client: TestClient, page_client: TestClient) -> None:
    item, _ = _referral_with_two_candidates(client)
    csrf = csrf_of(_form(page_client, item["referral_id"]))
    fields = [
        ("choice", "none"),
        ("named_officer", OFFICER),
        ("no_household_reason", "residential_needed"),
        ("override_reason", "child_wishes"),  # a household's reasons are not the decision's
    ]
    r = _post(page_client, item["referral_id"], fields, csrf)
    assert r.status_code == 303, r.text
    recorded = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()[-1]
    assert (recorded["outcome"], recorded["household_id"], recorded["reason_codes"]) == (
        "no_household",
        None,
        ["residential_needed"],
    )
    text = page_client.get(r.headers["location"]).text
    assert "No household was chosen" in text
    assert "children&#39;s home for now" in text


def test_a_child_without_an_open_referral_has_no_decision_link(client: TestClient, page_client: TestClient) -> None:
    waiting = {i["child_id"] for i in client.get("/v1/referrals", params={"limit": 200}).json()["items"]}
    children = client.get("/v1/children", params={"limit": 60}).json()["items"]
    child = next(c["child_id"] for c in children if c["child_id"] not in waiting)
    text = page_client.get(f"/pages/children/{child}/matches").text
    assert "Record the decision" not in text
    assert "/pages/referrals/default:" not in text


@pytest.fixture
def elsewhere_pages(make_client: Callable[..., TestClient], loaded_sqlite: Engine) -> TestClient:
    """A placement officer signed in to the pages whose remit is another authority only."""
    password = "another authority's decider 42"
    with loaded_sqlite.begin() as conn:
        if get_user(conn, "elsewhere.decisions") is None:
            create_user(
                conn,
                username="elsewhere.decisions",
                role=Role.PLACEMENT_OFFICER,
                remit=Remit(frozenset({"L999"}), frozenset({"LA-L999"})),
                actor=Actor.system("tests"),
                password=password,
            )
    c = make_client()
    token = csrf_of(c.get("/pages/sign-in").text)
    r = c.post(
        "/pages/sign-in",
        data={"csrf_token": token, "username": "elsewhere.decisions", "password": password, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return c


def _a_decision(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    item, _ = _referral_with_two_candidates(client)
    body = {"outcome": "no_household", "named_officer": OFFICER, "reason_codes": ["no_offer"]}
    r = client.post(f"/v1/referrals/{item['referral_id']}/decisions", json=body)
    assert r.status_code == 201, r.text
    return item, r.json()


def test_outside_the_remit_is_not_found(client: TestClient, elsewhere_pages: TestClient) -> None:
    item, decision = _a_decision(client)
    for path in (f"/pages/referrals/{item['referral_id']}/decision", f"/pages/decisions/{decision['id']}"):
        r = elsewhere_pages.get(path)
        assert r.status_code == 404, path
        assert item["child_id"] not in r.text
        assert "text/html" in r.headers["content-type"]
    csrf = csrf_of(elsewhere_pages.get("/pages/home").text)
    fields = [("choice", "none"), ("named_officer", OFFICER), ("no_household_reason", "no_offer")]
    assert _post(elsewhere_pages, item["referral_id"], fields, csrf).status_code == 404
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()[-1] == decision
    assert elsewhere_pages.get("/pages/decisions/999999999").status_code == 404


@pytest.mark.parametrize("role", [Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD, Role.AUDITOR, Role.ADMINISTRATOR])
def test_another_role_is_refused(client: TestClient, page_client_as: PageClientAs, role: Role) -> None:
    item, decision = _a_decision(client)
    other = page_client_as(role)
    for path in (f"/pages/referrals/{item['referral_id']}/decision", f"/pages/decisions/{decision['id']}"):
        r = other.get(path)
        assert r.status_code == 403, path
        assert "text/html" in r.headers["content-type"]
    csrf = csrf_of(other.get("/pages/home").text)
    fields = [("choice", "none"), ("named_officer", OFFICER), ("no_household_reason", "no_offer")]
    assert _post(other, item["referral_id"], fields, csrf).status_code == 403
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()[-1] == decision


def test_a_form_without_its_token_is_refused(client: TestClient, page_client: TestClient) -> None:
    item, _ = _referral_with_two_candidates(client)
    before = client.get(f"/v1/referrals/{item['referral_id']}/decisions").json()
    fields = [("choice", "none"), ("named_officer", OFFICER), ("no_household_reason", "no_offer")]
    assert _post(page_client, item["referral_id"], fields, None).status_code == 403
    assert _post(page_client, item["referral_id"], fields, "not-the-token").status_code == 403
    assert client.get(f"/v1/referrals/{item['referral_id']}/decisions").json() == before


def test_a_changed_snapshot_is_an_error_page_not_the_content(
    client: TestClient, page_client: TestClient, loaded_sqlite: Engine
) -> None:
    item, decision = _a_decision(client)
    snap = client.get(f"/v1/decisions/snapshots/{decision['snapshot_sha256']}").json()["payload"]
    changed = {**snap, "data_as_at": "2020-01-01"}  # stored under a hash it does not have
    fake = "f" * 64
    with loaded_sqlite.begin() as conn:
        if (
            conn.execute(
                select(schema.recommendation_snapshot.c.sha256).where(schema.recommendation_snapshot.c.sha256 == fake)
            ).first()
            is None
        ):
            conn.execute(
                insert(schema.recommendation_snapshot).values(
                    sha256=fake, referral_id=item["referral_id"], taken_at=datetime.now(UTC), payload=changed
                )
            )
        row = (
            conn.execute(select(schema.placement_decision).where(schema.placement_decision.c.id == decision["id"]))
            .mappings()
            .one()
        )
        tampered = conn.execute(
            insert(schema.placement_decision)
            .values({**{k: v for k, v in row.items() if k != "id"}, "snapshot_sha256": fake})
            .returning(schema.placement_decision.c.id)
        ).scalar_one()
    assert canonical_json(changed) != canonical_json(snap)
    r = page_client.get(f"/pages/decisions/{tampered}")
    assert r.status_code == 500
    assert "no longer matches its SHA-256" in r.text
    assert "Verified" not in r.text
    assert "1 January 2020" not in r.text
    assert 'id="shown-table"' not in r.text
    assert page_client.get(f"/pages/decisions/{decision['id']}").status_code == 200  # the true one still shows


def test_a_referral_that_is_not_open_has_nothing_to_decide(page_client: TestClient, loaded_sqlite: Engine) -> None:
    r, c = schema.referral, schema.child
    with loaded_sqlite.connect() as conn:
        closed = conn.execute(
            select(r.c.referral_id)
            .join(c, c.c.child_id == r.c.child_id)
            .where(r.c.status != "open", c.c.la_code == "L001")
            .limit(1)
        ).scalar_one_or_none()
    if closed is None:
        pytest.skip("the small authority has no referral that is not open")
    form = page_client.get(f"/pages/referrals/{closed}/decision")
    assert form.status_code == 409
    assert "not open" in form.text
    csrf = csrf_of(page_client.get("/pages/home").text)
    fields = [("choice", "none"), ("named_officer", OFFICER), ("no_household_reason", "no_offer")]
    assert _post(page_client, closed, fields, csrf).status_code == 409
