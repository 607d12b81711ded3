"""Who is waiting: every child of a request (the one referred and the siblings placed with them) is judged by the same
test, a child under 18 with an open referral made on or before the date."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from matching.domain import Scope
from matching.ranking import service
from tests.factories import ON, make_child, make_referral


def _requests(monkeypatch: pytest.MonkeyPatch, children: list[Any], referrals: list[Any]) -> list[Any]:
    monkeypatch.setattr(service.queries, "waiting_children", lambda conn, scope: children)
    monkeypatch.setattr(service.queries, "open_referrals", lambda conn, scope, children: referrals)
    return service.waiting_requests(None, scope=Scope.everything(), on=ON)  # type: ignore[arg-type]


def test_a_sibling_who_is_18_or_referred_later_is_not_placed_with_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by trying the pages as a new user: the allocation counted 33 waiting children where the waiting list
    counted 31; two siblings aged 18 on the date, whose own referrals were rightly left out, were placed with their
    younger siblings as one unit (and a lever for them read 'aged 11-17 (the oldest 18)')."""
    young = make_child(child_id="C1", birth_month=date(2014, 1, 1), sibling_group_id="G", place_with_siblings=True)
    adult = replace(young, child_id="C2", birth_month=date(ON.year - 18, ON.month, 1))
    later = replace(young, child_id="C3", birth_month=date(2015, 1, 1))
    waiting = replace(young, child_id="C4", birth_month=date(2016, 1, 1))
    children = [young, adult, later, waiting]
    referrals = [
        make_referral(young, referral_id="R1"),
        make_referral(adult, referral_id="R2"),
        make_referral(later, referral_id="R3", referral_date=date(ON.year, ON.month, ON.day + 1)),
        make_referral(waiting, referral_id="R4"),
    ]
    requests = _requests(monkeypatch, children, referrals)
    assert sorted(r.child.child_id for r in requests) == ["C1", "C4"]
    by_child = {r.child.child_id: r for r in requests}
    assert [c.child_id for c in by_child["C1"].siblings] == ["C4"]
    assert [c.child_id for c in by_child["C4"].siblings] == ["C1"]
    assert [s.referral_id for s in by_child["C1"].sibling_referrals] == ["R4"]
