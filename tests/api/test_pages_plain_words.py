"""The matches page says what meets a need and why households were ruled out in words (issue 18, item 11)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from matching.eligibility.rules import RULE_CODES
from matching.taxonomy import load_taxonomy

ON = "2026-04-01"


def test_the_matches_page_names_courses_and_rules_in_words(page_client: TestClient) -> None:
    r = page_client.get("/pages/children/L001-C00002/matches", params={"on": ON, "top": 10})
    assert r.status_code == 200
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", r.text)
    assert cells
    tax = load_taxonomy()
    assert not any(c.strip() in tax.courses for c in cells)  # no course code on its own
    assert not any(c.strip() in RULE_CODES or c.strip().replace(" ", "_") in RULE_CODES for c in cells)
    assert any(course.label in r.text for course in tax.courses.values())


def test_no_page_or_answer_names_a_path_on_the_server(page_client: TestClient, client: TestClient) -> None:
    """Without a step-down model (the tests' default) the note says so without the models folder's path."""
    for r in (
        page_client.get("/pages/step-down"),
        client.get("/v1/step-down"),
        client.get("/v1/children/L001-C00002/matches"),
    ):
        assert r.status_code == 200
        assert "/tmp/" not in r.text
        assert "/work/" not in r.text
