"""The home page: what needs each role's attention, counted as the API counts it, linked to the page listing it."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from matching.access import Role


def _attention(html: str) -> dict[str, int]:
    block = html.split('id="attention"', 1)[1].split("</ul>", 1)[0]
    return {
        href: int(n.replace(",", ""))
        for href, n in re.findall(r'<a class="govuk-link" href="([^"]+)"><strong>([\d,]+)</strong>', block)
    }


def test_a_placement_officer_sees_waiting_children_and_children_ready_to_step_down(
    client: TestClient, page_client: TestClient
) -> None:
    shown = _attention(page_client.get("/pages/home").text)
    assert shown["/pages/waiting"] == client.get("/v1/referrals", params={"limit": 1}).json()["total"]
    today = client.get("/v1/referrals", params={"limit": 1, "urgency": "today"}).json()["total"]
    assert shown.get("/pages/waiting?urgency=today", 0) == today
    ready = client.get("/v1/step-down").json()["counts"]["ready_to_start_matching"]
    assert shown.get("/pages/step-down?stage=ready_to_start_matching", 0) == ready


def test_a_fostering_officer_sees_households_with_a_vacancy(
    client_as: Callable[..., TestClient], page_client_as: Callable[..., TestClient]
) -> None:
    households = client_as(Role.FOSTERING_OFFICER).get("/v1/households", params={"limit": 500}).json()["items"]
    home = page_client_as(Role.FOSTERING_OFFICER).get("/pages/home").text
    assert _attention(home) == {"/pages/households?vacancy=yes": sum(1 for h in households if h["vacancies"] > 0)}
    assert 'href="/pages/waiting"' not in home


def test_each_role_is_offered_the_pages_of_its_navigation(page_client_as: Callable[..., TestClient]) -> None:
    expected = {
        Role.COMMISSIONING_LEAD: ["/pages/allocations", "/pages/sufficiency", "/pages/monitoring", "/pages/models"],
        Role.AUDITOR: ["/pages/audit", "/pages/models"],
        Role.ADMINISTRATOR: ["/pages/admin/users", "/pages/admin/imports", "/pages/models"],
    }
    for role, hrefs in expected.items():
        home = page_client_as(role).get("/pages/home").text
        main = home.split("What you can do here", 1)[1]
        offered = re.findall(r'<li><a class="govuk-link" href="(/pages/[^"]+)">', main)
        assert offered == hrefs, role


def test_the_navigation_marks_the_job_a_page_belongs_to() -> None:
    from api.templating import navigation
    from matching.access import Principal, Remit

    officer = Principal(1, "p", Role.PLACEMENT_OFFICER, Remit(frozenset({"L001"}), frozenset()))

    def current(path: str) -> list[str]:
        return [i["label"] for i in navigation(officer, path) if i["current"]]

    assert current("/pages/children/L001-C1/step-down") == ["Step-down"]
    assert current("/pages/children/L001-C1/matches") == ["Waiting children"]
    assert current("/pages/step-down") == ["Step-down"]
    assert current("/pages/households/L001-H1") == ["Households"]
    assert current("/pages/sign-in") == []
