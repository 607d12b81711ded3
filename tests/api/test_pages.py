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
