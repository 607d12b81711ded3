"""Counts read as people write them (issue 18, item 5: "1 past placements", "1 children")."""

from __future__ import annotations

import pytest

from matching.wording import counted, plural


@pytest.mark.parametrize(
    ("n", "noun", "expected"),
    [
        (1, "child", "1 child"),
        (0, "child", "0 children"),
        (2, "past placement", "2 past placements"),
        (1, "past placement", "1 past placement"),
        (1200, "household", "1,200 households"),
        (3, "foster family", "3 foster families"),
        (2, "local authority", "2 local authorities"),
    ],
)
def test_counted(n: int, noun: str, expected: str) -> None:
    assert counted(n, noun) == expected


def test_plural_with_an_explicit_form() -> None:
    assert plural(2, "sibling group", "sibling groups") == "sibling groups"
    assert plural(1, "person", "people") == "person"
    assert plural(5, "person", "people") == "people"
