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
    Role.PLACEMENT_OFFICER: ["Home", "Waiting children", "Step-down", "Households", "Monitoring", "Models"],
    Role.PLACEMENT_MANAGER: ["Home", "Waiting children", "Households", "Monitoring", "Models"],
    Role.FOSTERING_OFFICER: ["Home", "Referrals", "Households", "Models"],
    Role.COMMISSIONING_LEAD: ["Home", "Allocation", "Sufficiency", "Monitoring", "Models"],
    Role.AUDITOR: ["Home", "Audit trail", "Models"],
    Role.ADMINISTRATOR: ["Home", "Users", "Imports", "Models"],
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
            attention = session.page.locator("#attention").inner_text()
            total = session.api("/v1/referrals", limit=1)["total"]
            today = session.api("/v1/referrals", urgency="today", limit=1)["total"]
            assert f"{total} children waiting in all" in attention
            assert f"{today} {'child' if today == 1 else 'children'} needed today" in attention
            session.check("home")
        elif role is Role.FOSTERING_OFFICER:
            households = session.api("/v1/households", limit=500)["items"]
            free = sum(1 for h in households if h["vacancies"] > 0)
            assert (
                session.page.locator("#attention").inner_text().strip()
                == f"{free} household{'s' if free != 1 else ''} with a vacancy"
            )
        elif role in (Role.AUDITOR, Role.ADMINISTRATOR):
            assert session.page.locator("#attention").count() == 0
    session.page.get_by_role("button", name="Sign out").click()
    session.page.wait_for_load_state()
    assert "/pages/sign-in" in session.page.url


def shown_children(s: Session) -> list[str]:
    return list(s.page.locator("#waiting tbody tr").evaluate_all("els => els.map(e => e.dataset.child)"))


def apply_filters(s: Session) -> None:
    s.page.get_by_role("button", name="Apply").click()
    s.page.wait_for_load_state()


def test_waiting_page_lists_the_apis_waiting_list_a_page_at_a_time(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    assert session.page.url.endswith("/pages/waiting")
    api = session.api("/v1/referrals", limit=25)
    assert api["total"] > 25, "the synthetic authority should need two pages"
    assert shown_children(session) == [i["child_id"] for i in api["items"]]  # most urgent, then oldest
    assert f"{api['total']} open referrals" in session.page.locator("#waiting-count").inner_text()
    session.check("waiting")
    session.page.get_by_role("link", name="Next page").click()
    session.page.wait_for_load_state()
    second = session.api("/v1/referrals", limit=25, offset=25)
    assert shown_children(session) == [i["child_id"] for i in second["items"]]


def test_waiting_page_filters_and_search_as_the_api_does(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    page = session.page
    page.get_by_label("Needed", exact=True).select_option("today")
    page.get_by_label("Age", exact=True).select_option("11-15")
    apply_filters(session)
    api = session.api("/v1/referrals", urgency="today", age_min=11, age_max=15, limit=500)
    assert shown_children(session) == [i["child_id"] for i in api["items"]][:25]
    session.check("waiting-filtered")

    session.goto("/pages/waiting")
    first = session.api("/v1/referrals", limit=1)["items"][0]
    need = next(iter(first["needs"]))
    page.get_by_label("Need", exact=True).select_option(need)
    page.get_by_label("Placement type").select_option(first["placement_type"])
    page.get_by_label("Time waiting").select_option("28")
    apply_filters(session)
    api = session.api("/v1/referrals", need=need, placement_type=first["placement_type"], limit=500)
    assert shown_children(session) == [i["child_id"] for i in api["items"] if i["days_waiting"] >= 28][:25]

    session.goto("/pages/waiting")
    prefix = first["child_id"][:-1]
    page.get_by_label("Child's id (or its start)").fill(prefix)
    apply_filters(session)
    api = session.api("/v1/referrals", child_id=prefix, limit=500)
    assert shown_children(session) == [i["child_id"] for i in api["items"]]
    assert first["child_id"] in shown_children(session)


def test_waiting_page_says_what_is_wrong_with_a_search(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    session.page.get_by_label("Child's id (or its start)").fill("no such <id>")
    apply_filters(session)
    summary = session.page.locator(".govuk-error-summary")
    assert "Enter the start of a child's id" in summary.inner_text()
    summary.get_by_role("link").click()
    assert session.page.evaluate("document.activeElement.id") == "child_id"
    assert session.page.title().startswith("Error: ")
    session.check("waiting-error")


def test_child_page_summarises_the_child_as_the_api_does(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER, "/pages/waiting")
    first = session.api("/v1/referrals", limit=1)["items"][0]
    session.page.get_by_role("link", name=first["child_id"], exact=True).first.click()
    session.page.wait_for_load_state()
    child = session.api(f"/v1/children/{first['child_id']}")
    summary = session.page.locator("#summary").inner_text()
    assert summary.split("Age", 1)[1].strip().startswith(str(child["age"]))
    assert first["referral_id"] in session.page.locator("#referral").inner_text()
    needs = session.page.locator("#needs").inner_text()
    if first["needs_assessed"]:
        assert "Not assessed" not in needs
        assert len(needs.strip().splitlines()) == len(first["needs"])
    else:
        assert needs.startswith("Not assessed")
    session.check("child")
    session.page.get_by_role("link", name=f"Ranked carer households for {first['child_id']}").click()
    session.page.wait_for_load_state()
    assert session.page.url.endswith(f"/pages/children/{first['child_id']}/matches")


def test_a_child_whose_needs_were_never_assessed_says_so(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    items = session.api("/v1/referrals", limit=500)["items"]
    unassessed = [i["child_id"] for i in items if not i["needs_assessed"]]
    if not unassessed:
        return  # the synthetic authority has none on its waiting list this seed
    session.goto(f"/pages/children/{unassessed[0]}")
    assert session.page.locator("#needs").inner_text().startswith("Not assessed")
    session.goto(f"/pages/waiting?child_id={unassessed[0]}")
    assert "not assessed" in session.page.locator("#waiting tbody tr").first.inner_text()


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


def test_household_page_from_the_matches_page_shows_what_the_api_shows(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    waiting = [i["child_id"] for i in session.api("/v1/referrals", limit=20)["items"]]
    child, api = next((c, a) for c in waiting if (a := session.api(f"/v1/children/{c}/matches", top=5))["candidates"])
    household = api["candidates"][0]["household_id"]
    session.goto(f"/pages/children/{child}/matches?top=5")
    session.page.get_by_role("link", name=household, exact=True).click()
    session.page.wait_for_load_state()
    assert session.page.url.endswith(f"/pages/households/{household}")
    assert session.page.locator("h1").inner_text().endswith(f"Household {household}")
    shown = session.api(f"/v1/households/{household}")
    assert session.page.locator("#vacancy-count").inner_text().strip() == str(shown["vacancies"])
    terms = shown["terms"]
    assert session.page.locator("#ages").inner_text().strip() == f"{terms['age_min']} to {terms['age_max']}"
    matches = session.api(f"/v1/carers/{household}/matches")
    listed = session.page.locator("#candidates li.pm-candidate").evaluate_all("els => els.map(e => e.dataset.child)")
    assert listed == [c["child_id"] for c in matches["candidates"]]
    session.check("household")


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


def test_errors_are_pages_for_a_browser(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    response = session.goto("/pages/no-such-page")
    assert response.status == 404
    assert session.page.locator("h1").inner_text().strip() == "Page not found"
    session.check("not-found")
    response = session.goto("/pages/children/L001-C00002/matches?top=lots")
    assert response.status == 422
    assert "the number of households" in session.page.locator(".govuk-error-summary").inner_text()
    session.check("invalid-address")


def test_the_keyboard_reaches_the_skip_link_then_the_page(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    session.page.keyboard.press("Tab")
    focused = session.page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    session.page.keyboard.press("Enter")
    assert session.page.evaluate("document.activeElement.id") == "main-content"


def test_households_list_from_the_navigation_as_the_api_lists_them(session: Session) -> None:
    sign_in_as(session, Role.FOSTERING_OFFICER)
    session.page.get_by_role("link", name="Households", exact=True).click()
    session.page.wait_for_load_state()
    assert session.page.url.endswith("/pages/households")
    every = session.api("/v1/households", limit=500)["items"]
    shown = session.page.locator("#households tbody tr").evaluate_all("els => els.map(e => e.dataset.household)")
    assert shown == [h["household_id"] for h in every][:25]
    session.check("households")
    session.page.get_by_label("Vacancy", exact=True).select_option("yes")
    apply_filters(session)
    shown = session.page.locator("#households tbody tr").evaluate_all("els => els.map(e => e.dataset.household)")
    assert shown == [h["household_id"] for h in every if h["vacancies"] > 0][:25]
    session.page.get_by_role("link", name=shown[0], exact=True).click()
    session.page.wait_for_load_state()
    assert session.page.url.endswith(f"/pages/households/{shown[0]}")
