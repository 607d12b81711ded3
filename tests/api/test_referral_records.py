"""Referrals made, read, changed and closed through the API: the contract's rule with every problem a 422 at its
field (never the value sent), the remit (404) and the role (403) enforced, and each write audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from matching.access import Role
from matching.store import queries
from matching.store import schema as s
from tests.api.test_access import audit_entries, last_seq

Factory = Callable[..., TestClient]


def _free_child_and_day(engine: Engine) -> tuple[str, str]:
    """A looked-after child of L001 with no referral that is not closed, and the store's last record date (a
    referral on it leaves the store's as-at date where it was)."""
    with engine.connect() as conn:
        active = select(s.referral.c.child_id).where(s.referral.c.status.in_(("open", "matched")))
        child = (
            conn.execute(
                select(s.child.c.child_id)
                .where(s.child.c.ceased.is_(None), s.child.c.la_code == "L001", s.child.c.child_id.not_in(active))
                .order_by(s.child.c.child_id.desc())
            )
            .scalars()
            .first()
            or ""
        )
        day = queries.as_at(conn) - timedelta(days=1)
    assert child
    return child, day.isoformat()


def test_a_referral_is_made_changed_and_closed_and_each_write_audited(
    client: TestClient, loaded_sqlite: Engine
) -> None:
    child, day = _free_child_and_day(loaded_sqlite)
    since = last_seq(loaded_sqlite)
    body = {
        "child_id": child,
        "referral_date": day,
        "urgency": "within_5_days",
        "placement_type": "short_term",
        "expected_duration_days": 60,
        "risks_to_child": ["going_missing"],
        "wishes_text": "Wants to keep her dog.",
        "wish_pets": True,
    }
    r = client.post("/v1/referrals", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    rid = made["referral_id"]
    assert (made["child_id"], made["status"], made["fields"]["urgency"]) == (child, "open", "within_5_days")
    assert [h["kind"] for h in made["history"]] == ["created"]
    waiting = client.get("/v1/referrals", params={"child_id": child}).json()["items"]
    assert [w["referral_id"] for w in waiting] == [rid]  # on the waiting list at once

    r = client.patch(f"/v1/referrals/{rid}", json={"urgency": "today", "max_distance_miles": 20})
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["urgency"] == "today"
    assert r.json()["history"][-1]["fields"] == ["urgency", "max_distance_miles"]

    assert client.post(f"/v1/referrals/{rid}/status", json={"status": "closed"}).status_code == 422
    r = client.post(f"/v1/referrals/{rid}/status", json={"status": "closed", "reason_code": "no_longer_needed"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    assert client.patch(f"/v1/referrals/{rid}", json={"urgency": "over_5_days"}).status_code == 409
    assert client.post(f"/v1/referrals/{rid}/status", json={"status": "matched"}).status_code == 409
    hist = client.get(f"/v1/referrals/{rid}/history").json()
    assert [(h["kind"], h["status_to"]) for h in hist] == [("created", "open"), ("updated", None), ("status", "closed")]
    assert hist[-1]["changed_by"] == "demo.placement"
    assert hist[-1]["reason"] == "A placement is no longer needed"
    assert client.get("/v1/referrals", params={"child_id": child}).json()["items"] == []

    writes = [
        e
        for e in audit_entries(loaded_sqlite, since)
        if e.action.split()[0] in ("POST", "PATCH") and e.action.split()[1].startswith("/v1/referrals")
    ]
    assert [(e.action, e.outcome, e.child_ids) for e in writes if e.outcome in ("200", "201")] == [
        ("POST /v1/referrals", "201", (child,)),
        ("PATCH /v1/referrals/{referral_id}", "200", (child,)),
        ("POST /v1/referrals/{referral_id}/status", "200", (child,)),
    ]
    assert all("Wants" not in (e.detail or "") for e in writes)


def test_a_bad_body_is_422_with_every_field_and_no_value_echoed(client: TestClient, loaded_sqlite: Engine) -> None:
    child, _ = _free_child_and_day(loaded_sqlite)
    bad = {
        "child_id": child,
        "referral_date": "2100-01-01",
        "urgency": "whenever-secret",
        "expected_duration_days": -1,
        "risks_to_child": ["nope-secret"],
    }
    r = client.post("/v1/referrals", json=bad)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert locs == {
        ("body", "referral_date"),
        ("body", "urgency"),
        ("body", "placement_type"),
        ("body", "expected_duration_days"),
        ("body", "risks_to_child"),
    }
    assert "secret" not in r.text
    assert client.get("/v1/referrals", params={"child_id": child}).json()["items"] == []  # nothing made
    extra = client.post("/v1/referrals", json={**bad, "referral_id": "MINE", "status": "closed"})
    assert {("body", "referral_id"), ("body", "status")} <= {tuple(e["loc"]) for e in extra.json()["detail"]}
    wrong_type = client.post("/v1/referrals", json={"child_id": child, "wish_pets": "yes"})
    assert wrong_type.status_code == 422
    assert [tuple(e["loc"]) for e in wrong_type.json()["detail"]] == [("body", "wish_pets")]


def test_outside_the_remit_is_404_and_the_wrong_role_403(
    client_as: Factory, client: TestClient, loaded_sqlite: Engine
) -> None:
    with loaded_sqlite.connect() as conn:
        rid = conn.execute(select(s.referral.c.referral_id).order_by(s.referral.c.referral_id)).scalars().first()
    assert client.get(f"/v1/referrals/{rid}").status_code == 200
    assert client_as(Role.PLACEMENT_MANAGER).get(f"/v1/referrals/{rid}/history").status_code == 200
    elsewhere = client_as("elsewhere")
    assert elsewhere.get(f"/v1/referrals/{rid}").status_code == 404
    assert elsewhere.get(f"/v1/referrals/{rid}/history").status_code == 404
    assert elsewhere.patch(f"/v1/referrals/{rid}", json={"urgency": "today"}).status_code == 404
    assert (
        elsewhere.post(f"/v1/referrals/{rid}/status", json={"status": "closed", "reason_code": "placed"}).status_code
        == 404
    )
    child, day = _free_child_and_day(loaded_sqlite)
    made = elsewhere.post(
        "/v1/referrals",
        json={"child_id": child, "referral_date": day, "urgency": "today", "placement_type": "emergency"},
    )
    assert made.status_code == 422
    assert [tuple(e["loc"]) for e in made.json()["detail"]] == [("body", "child_id")]
    assert client.get("/v1/referrals/NO-SUCH").status_code == 404
    manager = client_as(Role.PLACEMENT_MANAGER)  # decides, does not refer
    assert manager.post("/v1/referrals", json={"child_id": child}).status_code == 403
    assert manager.patch(f"/v1/referrals/{rid}", json={"urgency": "today"}).status_code == 403
    for role in (Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD, Role.AUDITOR, Role.ADMINISTRATOR):
        assert client_as(role).get(f"/v1/referrals/{rid}").status_code == 403, role
        assert client_as(role).post(f"/v1/referrals/{rid}/status", json={"status": "closed"}).status_code == 403
