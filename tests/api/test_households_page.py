"""The carer households list: the API's households in the caller's remit, searched and filtered, a page at a time."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from matching.access import Role


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="govuk-table__row" data-household="([^"]+)"', html)


def _every(client: TestClient) -> list[dict]:
    return client.get("/v1/households", params={"limit": 500}).json()["items"]


def test_the_list_is_the_apis_households_by_id_a_page_at_a_time(
    client_as: Callable[..., TestClient], page_client_as: Callable[..., TestClient]
) -> None:
    for role in (Role.FOSTERING_OFFICER, Role.PLACEMENT_OFFICER):
        api = _every(client_as(role))
        page = page_client_as(role)
        first = page.get("/pages/households")
        assert first.status_code == 200
        assert _rows(first.text) == [h["household_id"] for h in api][:25]
        free = sum(h["vacancies"] for h in api)
        assert f"{free} free places in all" in first.text
        assert _rows(page.get("/pages/households", params={"page": 2}).text) == [h["household_id"] for h in api][25:50]


def test_filters_choose_the_households_the_api_describes(client: TestClient, page_client: TestClient) -> None:
    api = _every(client)
    with_vacancy = [h["household_id"] for h in api if h["vacancies"] > 0]
    page = page_client.get("/pages/households", params={"vacancy": "yes"})
    assert _rows(page.text) == with_vacancy[:25]
    teen = [h["household_id"] for h in api if h["terms"]["age_min"] <= 15 <= h["terms"]["age_max"]]
    assert _rows(page_client.get("/pages/households", params={"age": "15"}).text) == teen[:25]
    one = api[3]["household_id"]
    assert one in _rows(page_client.get("/pages/households", params={"household_id": one}).text)


def test_a_wrong_filter_is_named_in_an_error_summary(page_client: TestClient) -> None:
    r = page_client.get("/pages/households", params={"age": "eighteen", "la_code": "Z999"})
    assert r.status_code == 422
    assert "<title>Error: " in r.text
    assert 'href="#age">Enter an age from 0 to 17' in r.text
    assert 'href="#la_code">Choose an authority from the list' in r.text
    assert _rows(r.text) == []


def test_roles_without_households_are_refused(page_client_as: Callable[..., TestClient]) -> None:
    for role in (Role.AUDITOR, Role.COMMISSIONING_LEAD, Role.ADMINISTRATOR):
        assert page_client_as(role).get("/pages/households").status_code == 403
