"""Each page as a person uses it, in Chromium: sign in through the form, open the page, check what it shows
against the API's answer to the same request, and run axe-core on it (0 violations of WCAG 2.2 A/AA)."""

from __future__ import annotations

import re

from matching.access import Role
from matching.accounts.demo import DEMO_ACCOUNTS
from tests.browser.conftest import Session

ACCOUNTS = {d.role: d for d in DEMO_ACCOUNTS}
#: What the service navigation shows each role (the pages it may use).
NAVIGATION = {
    Role.PLACEMENT_OFFICER: ["Home", "Waiting children", "Step-down"],
    Role.FOSTERING_OFFICER: ["Home"],
    Role.COMMISSIONING_LEAD: ["Home"],
    Role.AUDITOR: ["Home"],
    Role.ADMINISTRATOR: ["Home"],
}


def sign_in_as(s: Session, role: Role, next_path: str | None = None) -> None:
    a = ACCOUNTS[role]
    s.sign_in(a.username, a.password, next_path)


def texts(s: Session, selector: str) -> list[str]:
    return [t.strip() for t in s.page.locator(selector).all_inner_texts()]


def test_sign_in_page_and_a_wrong_password(session: Session) -> None:
    session.goto("/pages/sign-in")
    assert session.page.title().startswith("Sign in")
    assert session.page.locator(".govuk-generic-header__homepage-link").inner_text().strip() == "placement-matching"
    assert session.page.locator(".govuk-phase-banner").inner_text().count("Decision support") == 1
    session.check("sign-in")
    session.sign_in("demo.placement", "not the password")
    summary = session.page.locator(".govuk-error-summary")
    assert "The username or password is not right." in summary.inner_text()
    assert session.page.title().startswith("Error: ")
    session.check("sign-in-error")


def test_each_role_sees_only_its_own_navigation(session: Session) -> None:
    for role, expected in NAVIGATION.items():
        session.context.clear_cookies()
        sign_in_as(session, role)
        assert session.page.url.endswith("/pages/home")
        assert texts(session, ".govuk-service-navigation__item") == expected, role
        who = session.page.locator(".pm-who__text").inner_text()
        assert ACCOUNTS[role].display_name in who
        assert "Remit:" in who
        if role is Role.PLACEMENT_OFFICER:
            session.check("home")
    session.page.get_by_role("button", name="Sign out").click()
    session.page.wait_for_load_state()
    assert "/pages/sign-in" in session.page.url


def test_waiting_page_lists_the_apis_waiting_list(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    assert session.page.url.endswith("/pages/waiting")
    shown = texts(session, "#waiting tbody tr td:first-child")
    api = session.api("/v1/referrals", limit=500)
    assert api["items"]
    assert sorted(shown) == sorted(i["child_id"] for i in api["items"])
    session.check("waiting")


def test_matches_page_ranks_as_the_api_does(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    waiting = [i["child_id"] for i in session.api("/v1/referrals", limit=20)["items"]]
    child, api = next((c, a) for c in waiting if (a := session.api(f"/v1/children/{c}/matches", top=5))["candidates"])
    session.goto(f"/pages/children/{child}/matches?top=5")
    assert session.page.locator("h1").inner_text().endswith(child)
    shown = session.page.locator("li.pm-candidate").evaluate_all("els => els.map(e => e.dataset.household)")
    assert shown == [c["household_id"] for c in api["candidates"]]
    scores = texts(session, "li.pm-candidate .pm-score")
    assert [re.sub(r"^Score\s*", "", t) for t in scores] == [f"{c['score']:.1f}" for c in api["candidates"]]
    session.check("matches")


def test_step_down_page_shows_the_apis_cohort(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/step-down")
    api = session.api("/v1/step-down")
    shown = session.page.locator("#cohort tbody tr").evaluate_all("els => els.map(e => e.dataset.child)")
    assert sorted(shown) == sorted(c["child_id"] for c in api["children"])
    session.check("step-down")
    stage = next(s for s, n in api["counts"].items() if n)
    session.page.get_by_label("Stage", exact=True).select_option(stage)
    session.page.get_by_role("button", name="Show").click()
    session.page.wait_for_load_state()
    shown = session.page.locator("#cohort tbody tr").evaluate_all("els => els.map(e => e.dataset.child)")
    assert sorted(shown) == sorted(c["child_id"] for c in session.api("/v1/step-down", stage=stage)["children"])


def test_a_page_outside_the_role_is_a_page_not_json(session: Session) -> None:
    sign_in_as(session, Role.FOSTERING_OFFICER)
    response = session.goto("/pages/waiting")
    assert response.status == 403
    assert session.page.locator("h1").inner_text().strip() == "Not for your role"
    session.check("forbidden")
