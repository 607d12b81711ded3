"""Step-down families and capacity (issue 18, item 3).

Before: each ready child's families were ranked for that child alone, so one household with 3 vacancies was
offered to 8 or more children of one cohort, with nothing saying so and no way to see a plan that fits.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from typer.testing import CliRunner

from matching.cli import app
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.stepdown.assess import Cohort, assess_cohort
from matching.stepdown.proposal import offers_per_family, propose
from matching.taxonomy import load_taxonomy
from tests.factories import make_child, make_household, make_request, make_terms

CFG, TAX = load_fit_config(), load_taxonomy()
ON = date(2026, 4, 1)


def test_each_family_says_how_many_other_ready_children_it_is_offered_to(history_store: tuple[Engine, object]) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        cohort: Cohort = assess_cohort(conn, scope=Scope.everything())
    ready = [a for a in cohort.children if any(c.household_id for c in a.candidates)]
    assert ready, "the generated cohort should have ready children with families"
    offered = Counter(h for a in ready for h in {c.household_id for c in a.candidates if c.household_id})
    for a in ready:
        for c in a.candidates:
            if c.household_id is not None:
                assert c.offered_to_others == offered[c.household_id] - 1
                assert c.vacancies is not None
    proposal = cohort.proposal
    assert proposal is not None
    taken = Counter(m.household_id for m in proposal.moves if m.household_id)
    vacancies = {c.household_id: c.vacancies for a in ready for c in a.candidates if c.household_id}
    assert all(n <= (vacancies[h] or 0) for h, n in taken.items())
    proposed = {m.child_id for m in proposal.moves} | {u["child_id"] for u in proposal.unplaced}
    ready_ids = {a.child_id for a in cohort.children if a.stage in ("ready_to_start_matching", "in_transition")}
    assert proposed == ready_ids  # every ready child is either proposed somewhere or told why not


@settings(max_examples=25, deadline=None)
@given(children=st.integers(1, 9), places=st.integers(1, 3), families=st.integers(1, 3))
def test_the_proposal_never_fills_a_family_beyond_its_vacancies(children: int, places: int, families: int) -> None:
    households = [
        make_household(household_id=f"H{i}", terms=make_terms(places=places, age_min=0, age_max=17))
        for i in range(families)
    ]
    requests = [
        make_request(make_child(child_id=f"C{i}", birth_month=date(2012, 1 + i % 12, 1)), referral_id=f"R{i}", on=ON)
        for i in range(children)
    ]
    pool = HouseholdPool(households, TAX, CFG)
    proposal = propose(pool, requests, going_home=[], kin={}, top_k=10)
    taken = Counter(m.household_id for m in proposal.moves)
    assert all(taken[h.household_id] <= h.vacancies for h in households)
    placed = len(proposal.moves)
    assert placed == min(children, sum(min(h.vacancies, 3) for h in households))  # as many as there is room for
    assert placed + len(proposal.unplaced) == children
    offered = offers_per_family({r.child.child_id: [h.household_id for h in households] for r in requests})
    assert all(n == children for n in offered.values())


def test_a_child_going_home_takes_no_familys_place() -> None:
    h = make_household(household_id="H1", terms=make_terms(places=1))
    requests = [make_request(make_child(child_id=c), referral_id=f"R-{c}", on=ON) for c in ("C1", "C2")]
    proposal = propose(HouseholdPool([h], TAX, CFG), requests, going_home=["C1"], kin={}, top_k=5)
    assert [(m.child_id, m.kind, m.household_id) for m in proposal.moves] == [
        ("C1", "return_home", None),
        ("C2", "foster", "H1"),
    ]


def test_the_cli_hides_no_child_without_saying_so_and_shows_the_proposal(
    history_store: tuple[Engine, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the table showed the first 40 children and said nothing of the rest (issue 18, item 8)."""
    engine, _ = history_store
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    monkeypatch.setenv("COLUMNS", "250")
    res = CliRunner().invoke(app, ["step-down", "--show", "5"])
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        total = len(assess_cohort(conn, scope=Scope.everything(), with_candidates=False).children)
    assert f"…and {total - 5} more" in res.output
    assert "--show 0 shows every child" in res.output
    assert "A proposal within every family's vacancies" in res.output
    every = CliRunner().invoke(app, ["step-down", "--show", "0"])
    assert "more child" not in every.output
    assert "other ready child" in every.output
