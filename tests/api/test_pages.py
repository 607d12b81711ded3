"""The web pages render the same explanations as the API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

ON = "2026-04-01"


def test_waiting_list_links_to_each_childs_matches(page_client: TestClient) -> None:
    r = page_client.get("/pages/waiting", params={"on": ON})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    links = re.findall(r'href="/pages/children/([^/]+)/matches', r.text)
    assert links
    rows = re.findall(r"<tr\b", r.text.split("<tbody", 1)[1])
    assert len(links) == len(rows)  # one link per referral row
    assert all(link.startswith("L001-C") for link in links)


def test_matches_page_shows_the_same_candidates_as_the_api(client: TestClient, page_client: TestClient) -> None:
    api = client.get("/v1/children/L001-C00002/matches", params={"on": ON, "top": 5}).json()
    page = page_client.get("/pages/children/L001-C00002/matches", params={"on": ON, "top": 5})
    assert page.status_code == 200
    shown = re.findall(r'<li class="pm-candidate" data-household="([A-Z0-9-]+)"', page.text)
    assert shown == [c["household_id"] for c in api["candidates"]]
    for c in api["candidates"]:
        assert f"{c['score']:.1f}" in page.text
    assert "Why other households were ruled out" in page.text
    assert 'class="pm-bar"' in page.text


def test_unknown_child_page_is_404(page_client: TestClient) -> None:
    assert page_client.get("/pages/children/NOPE-1/matches").status_code == 404


def test_root_goes_to_the_home_page(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307)
    assert r.headers["location"] == "/pages/home"


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="govuk-table__row" data-child="([^"]+)"', html)


def test_waiting_page_is_the_apis_list_a_page_at_a_time(client: TestClient, page_client: TestClient) -> None:
    api = client.get("/v1/referrals", params={"on": ON, "limit": 25}).json()
    page = page_client.get("/pages/waiting", params={"on": ON})
    assert _rows(page.text) == [i["child_id"] for i in api["items"]]
    second = client.get("/v1/referrals", params={"on": ON, "limit": 25, "offset": 25}).json()
    page = page_client.get("/pages/waiting", params={"on": ON, "page": 2})
    assert _rows(page.text) == [i["child_id"] for i in second["items"]]
    assert 'aria-current="page">2</a>' in page.text


def test_waiting_page_filters_as_the_api_does(client: TestClient, page_client: TestClient) -> None:
    query = {"urgency": "within_5_days", "placement_type": "long_term"}
    api = client.get("/v1/referrals", params={"on": ON, "limit": 500, **query}).json()
    page = page_client.get("/pages/waiting", params={"on": ON, **query})
    assert _rows(page.text) == [i["child_id"] for i in api["items"]][:25]
    aged = client.get("/v1/referrals", params={"on": ON, "limit": 500, "age_min": 11, "age_max": 15}).json()
    page = page_client.get("/pages/waiting", params={"on": ON, "age": "11-15", "waited": "28"})
    assert _rows(page.text) == [i["child_id"] for i in aged["items"] if i["days_waiting"] >= 28][:25]


def test_waiting_page_refuses_a_bad_filter_with_an_error_summary(page_client: TestClient) -> None:
    r = page_client.get("/pages/waiting", params={"on": ON, "child_id": "<b>", "urgency": "soonish"})
    assert r.status_code == 422
    assert "govuk-error-summary" in r.text
    assert 'href="#child_id"' in r.text
    assert 'href="#urgency"' in r.text
    assert "<b>" not in r.text


def test_child_page_summarises_the_child(client: TestClient, page_client: TestClient) -> None:
    child = client.get("/v1/children/L001-C00002").json()
    r = page_client.get("/pages/children/L001-C00002", params={"on": ON})
    assert r.status_code == 200
    assert "Child L001-C00002" in r.text
    assert "/pages/children/L001-C00002/matches" in r.text
    for heading in ("Wishes and feelings", "Referral", "Brothers and sisters", "Placement history"):
        assert f">{heading}</h2>" in r.text
    assert child["la_code"] in r.text
    assert page_client.get("/pages/children/NOPE-1").status_code == 404


def test_child_page_is_not_for_a_fostering_officer(page_client_as) -> None:  # type: ignore[no-untyped-def]
    from matching.access import Role

    assert page_client_as(Role.FOSTERING_OFFICER).get("/pages/children/L001-C00002").status_code == 403


def test_a_browser_gets_error_pages_and_the_api_keeps_json(client: TestClient, page_client: TestClient) -> None:
    missing = page_client.get("/pages/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text
    assert client.get("/v1/no-such-thing").json() == {"detail": "Not Found"}
    child = page_client.get("/pages/children/NOPE-1/matches")
    assert child.status_code == 404
    assert "Page not found" in child.text
    bad = page_client.get("/pages/children/L001-C00002/matches", params={"top": "lots-of-them"})
    assert bad.status_code == 422
    assert "govuk-error-summary" in bad.text
    assert "the number of households" in bad.text
    assert "lots-of-them" not in bad.text
    assert client.get("/v1/children/L001-C00002/matches", params={"top": "x"}).json()["detail"][0]["loc"]


def test_a_failing_page_answers_a_500_page_that_says_nothing(make_client) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import app_of

    app = app_of(make_client())

    def boom() -> None:
        raise RuntimeError("secret detail L001-C00002")

    app.add_api_route("/pages/boom", boom)
    r = TestClient(app, raise_server_exceptions=False).get("/pages/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "Sorry, there is a problem with the service" in r.text
    assert "L001-C00002" not in r.text
    assert "content-security-policy" in r.headers


def test_household_page_shows_what_the_api_shows(client: TestClient, page_client: TestClient) -> None:
    top = client.get("/v1/children/L001-C00002/matches", params={"on": ON, "top": 1}).json()["candidates"][0]
    h = {"household_id": top["household_id"]}
    matches = client.get(f"/v1/carers/{h['household_id']}/matches", params={"on": ON}).json()
    assert matches["candidates"]
    api = client.get(f"/v1/households/{h['household_id']}").json()
    r = page_client.get(f"/pages/households/{h['household_id']}", params={"on": ON})
    assert r.status_code == 200
    assert f"Household {api['household_id']}" in r.text
    terms = r.text.split('id="terms"', 1)[1].split("</dl>", 1)[0]
    assert f"{api['terms']['age_min']} to {api['terms']['age_max']}" in terms
    assert f'id="places">{api["terms"]["places"]}<' in terms
    assert f'id="sibling-group">{api["terms"]["max_sibling_group"]}<' in terms
    assert f'id="vacancy-count">{api["vacancies"]}<' in r.text
    for t in api["training"]:
        assert str(t["completed_on"]) in r.text
    shown = re.findall(r'<li class="pm-candidate" data-child="([^"]+)"', r.text)
    assert shown == [c["child_id"] for c in matches["candidates"]]
    for c in matches["candidates"]:
        assert f'href="/pages/children/{c["child_id"]}?on={ON}"' in r.text
        assert f"{c['score']:.1f}" in r.text
    # the matches page links each candidate household to its page
    child = next(iter(shown), None)
    if child is not None:
        page = page_client.get(f"/pages/children/{child}/matches", params={"on": ON})
        assert f'href="/pages/households/{h["household_id"]}?on={ON}"' in page.text


def test_household_page_outside_the_remit_is_404(client: TestClient, page_client_as) -> None:  # type: ignore[no-untyped-def]
    from matching.access import Role

    households = client.get("/v1/households", params={"limit": 500}).json()["items"]
    ifa = next(h["household_id"] for h in households if h["agency_code"] != "LA-L001")
    own = next(h["household_id"] for h in households if h["agency_code"] == "LA-L001")
    fostering = page_client_as(Role.FOSTERING_OFFICER)
    missing = fostering.get(f"/pages/households/{ifa}")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    mine = fostering.get(f"/pages/households/{own}", params={"on": ON})
    assert mine.status_code == 200
    assert "Your role does not match children to households." in mine.text
    assert not re.search(r"L001-C\d+", mine.text)  # a fostering officer sees no child's id
    assert fostering.get("/pages/households/NOPE-H1").status_code == 404
