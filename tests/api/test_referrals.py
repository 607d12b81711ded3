"""The waiting list in the API and the CLI (issue 18, item 10): open referrals, most urgent first, then the
oldest, filtered and paginated, within the caller's remit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from matching.access import Role
from matching.cli import app

ON = "2026-04-01"
ORDER = {"today": 0, "within_5_days": 1, "over_5_days": 2}


def _all(client: TestClient, **params: object) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = []  # type: ignore[type-arg]
    offset = 0
    while True:
        page = client.get("/v1/referrals", params={"on": ON, "limit": 7, "offset": offset, **params})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        offset += 7
        if offset >= body["total"]:
            assert len(items) == body["total"]
            return items


def test_most_urgent_first_then_longest_waiting(client: TestClient) -> None:
    items = _all(client)
    assert items, "the small authority has open referrals"
    keys = [(ORDER[i["urgency"]], i["referral_date"], i["child_id"]) for i in items]
    assert keys == sorted(keys)
    on = date.fromisoformat(ON)
    for i in items:
        assert i["age"] <= 17
        assert i["referral_date"] <= ON
        assert i["days_waiting"] == (on - date.fromisoformat(i["referral_date"])).days >= 0


def test_filters(client: TestClient) -> None:
    items = _all(client)
    first = items[0]
    for field, value in (("urgency", first["urgency"]), ("placement_type", first["placement_type"])):
        chosen = _all(client, **{field: value})
        assert chosen == [i for i in items if i[field] == value]
    teens = _all(client, age_min=13, age_max=17)
    assert teens == [i for i in items if 13 <= i["age"] <= 17]
    need = next(n for i in items for n in i["needs"])
    assert _all(client, need=need) == [i for i in items if need in i["needs"]]
    assert _all(client, child_id=first["child_id"].lower()) == [first]
    assert _all(client, min_days_waiting=28) == [i for i in items if i["days_waiting"] >= 28]


def test_outside_the_remit_nothing_and_bad_filters_are_422(client_as: Callable[..., TestClient]) -> None:
    officer = client_as(Role.PLACEMENT_OFFICER)
    assert _all(officer, la_code="L002") == []
    r = officer.get("/v1/referrals", params={"urgency": "yesterday"})
    assert r.status_code == 422
    assert "urgency" in json.dumps(r.json())
    assert client_as(Role.AUDITOR).get("/v1/referrals").status_code == 403


def test_the_cli_lists_the_same_children(
    client: TestClient, loaded_sqlite: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(loaded_sqlite.url))
    res = CliRunner().invoke(app, ["waiting", "--on", ON, "--json"])
    assert res.exit_code == 0, res.output
    assert [i["child_id"] for i in json.loads(res.output)] == [i["child_id"] for i in _all(client)]
    shown = CliRunner().invoke(app, ["waiting", "--on", ON, "--show", "2"], env={"COLUMNS": "200"})
    assert "more (--show 0 shows every row)" in shown.output
    reversed_ages = CliRunner().invoke(app, ["waiting", "--age-min", "12", "--age-max", "3"])
    assert reversed_ages.exit_code == 1
    assert "reversed" in reversed_ages.output
