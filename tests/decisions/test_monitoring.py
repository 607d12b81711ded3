"""Monitoring decisions: the figures an authority reads are what the raw records say (a property test recomputes
them from generated decision rows by hand), only the children in scope count, each referral counts by its latest
decision in the window, and a group of fewer than five children is suppressed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from matching import codes
from matching.decisions import DecisionDraft, DecisionOutcome, record_decision
from matching.decisions.decision import NO_HOUSEHOLD_REASONS, OVERRIDE_REASONS
from matching.decisions.monitoring import (
    SMALL_GROUP,
    SUPPRESSED,
    DecisionMonitoring,
    decision_monitoring,
    percentile,
)
from matching.domain import Scope
from matching.store import schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from tests.decisions.test_decisions import AT, _snapshot, officer

LAS = ("L001", "L002")
FROM, TO = date(2026, 1, 1), date(2026, 3, 31)


# --- the property: figures recomputed by hand from generated rows ----------------------------------------------


@dataclass(frozen=True)
class GenChild:
    child_id: str
    la_code: str
    birth_month: date
    sex: str
    ethnicity: str
    disability: bool
    uasc: bool


@dataclass(frozen=True)
class GenReferral:
    referral_id: str
    child_id: str
    referral_date: date
    urgency: str


@dataclass(frozen=True)
class GenDecision:
    referral_id: str
    decided_at: datetime
    outcome: str
    departs: bool
    reasons: tuple[str, ...]


@st.composite
def records(draw: st.DrawFn) -> tuple[list[GenChild], list[GenReferral], list[GenDecision]]:
    n_children = draw(st.integers(1, 30))
    children = [
        GenChild(
            f"C{i}",
            draw(st.sampled_from(LAS)),
            date(draw(st.integers(2006, 2025)), draw(st.integers(1, 12)), 1),
            draw(st.sampled_from(sorted(codes.SEX))),
            draw(st.sampled_from(sorted(codes.ETHNIC))),
            draw(st.booleans()),
            draw(st.booleans()),
        )
        for i in range(n_children)
    ]
    referrals = [
        GenReferral(
            f"R{i}-{k}",
            c.child_id,
            date(2025, 10, 1) + timedelta(days=draw(st.integers(0, 170))),
            draw(st.sampled_from(codes.URGENCY)),
        )
        for i, c in enumerate(children)
        for k in range(draw(st.integers(1, 2)))
    ]
    decisions = []
    for r in referrals:
        for _ in range(draw(st.integers(0, 3))):
            chosen = draw(st.booleans())
            pool = sorted(OVERRIDE_REASONS if chosen else NO_HOUSEHOLD_REASONS)
            decisions.append(
                GenDecision(
                    r.referral_id,
                    datetime(2025, 12, 25, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 110 * 24 * 60))),
                    "household_chosen" if chosen else "no_household",
                    chosen and draw(st.booleans()),
                    tuple(draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))),
                )
            )
    return children, referrals, decisions


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An empty store (schema only) with the two authorities and one snapshot the decisions point at."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('monitoring') / 'store.db'}")
    schema.metadata.create_all(engine)  # no append-only triggers: each example is rolled back
    with engine.begin() as conn:
        for la in LAS:
            conn.execute(
                insert(schema.local_authority).values(
                    la_code=la, name=la, region="R", centre_easting=0, centre_northing=0
                )
            )
        conn.execute(
            insert(schema.recommendation_snapshot).values(
                sha256="0" * 64, referral_id="R", taken_at=datetime(2026, 1, 1, tzinfo=UTC), payload={}
            )
        )
    yield engine
    engine.dispose()


def _insert(conn: Any, children: list[GenChild], referrals: list[GenReferral], decisions: list[GenDecision]) -> None:
    conn.execute(
        insert(schema.child),
        [
            {
                "child_id": c.child_id,
                "la_code": c.la_code,
                "birth_month": c.birth_month,
                "sex": c.sex,
                "ethnicity": c.ethnicity,
                "disability": c.disability,
                "uasc": c.uasc,
                "legal_status": "C2",
                "category_of_need": "N1",
                "care_started": date(2025, 1, 1),
                "place": "U6",
                "placement_start": date(2025, 1, 1),
            }
            for c in children
        ],
    )
    conn.execute(
        insert(schema.referral),
        [
            {
                "referral_id": r.referral_id,
                "child_id": r.child_id,
                "referral_date": r.referral_date,
                "urgency": r.urgency,
                "placement_type": "short_term",
            }
            for r in referrals
        ],
    )
    if decisions:
        conn.execute(
            insert(schema.placement_decision),
            [
                {
                    "referral_id": d.referral_id,
                    "snapshot_sha256": "0" * 64,
                    "outcome": d.outcome,
                    "household_id": "H1" if d.outcome == "household_chosen" else None,
                    "best_ranked_household_id": "H1",
                    "departs_from_ranking": d.departs,
                    "named_officer": "A. Officer",
                    "reason_codes": list(d.reasons),
                    "accepted_warnings": [],
                    "recorded_by_user_id": 1,
                    "recorded_by": "deb",
                    "decided_at": d.decided_at,
                }
                for d in decisions
            ],
        )


def _band(birth: date, on: date) -> str:
    age = max(0, ((on.year * 12 + on.month) - (birth.year * 12 + birth.month)) // 12)
    return "0-4" if age <= 4 else "5-10" if age <= 10 else "11-15" if age <= 15 else "16+"


def _expected(
    children: list[GenChild], referrals: list[GenReferral], decisions: list[GenDecision], las: set[str]
) -> dict[str, Any]:
    """The figures worked out directly from the generated records, written apart from the library."""
    kids = {c.child_id: c for c in children if c.la_code in las}
    refs = {r.referral_id: r for r in referrals if r.child_id in kids}
    window = [(i, d) for i, d in enumerate(decisions) if d.referral_id in refs and FROM <= d.decided_at.date() <= TO]
    latest: dict[str, GenDecision] = {}
    for _, d in sorted(window, key=lambda x: (x[1].decided_at, x[0])):
        latest[d.referral_id] = d
    current = list(latest.values())
    chosen = [d for d in current if d.outcome == "household_chosen"]

    def days(d: GenDecision) -> int:
        return (d.decided_at.date() - refs[d.referral_id].referral_date).days

    def median(xs: list[int]) -> float | None:
        s = sorted(xs)
        if not s:
            return None
        mid = len(s) // 2
        return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2

    def p90(xs: list[int]) -> int | None:
        return sorted(xs)[math.ceil(0.9 * len(xs)) - 1] if xs else None

    def groups(d: GenDecision) -> dict[str, str]:
        r = refs[d.referral_id]
        c = kids[r.child_id]
        eth = next(g for g, members in codes.ETHNICITY_GROUPS.items() if c.ethnicity in members)
        return {
            "sex": c.sex,
            "ethnicity_group": eth,
            "age_band": _band(c.birth_month, r.referral_date),
            "disability": "yes" if c.disability else "no",
            "uasc": "yes" if c.uasc else "no",
        }

    by_group: dict[tuple[str, str], tuple[int | None, float | None, int | None, int | None]] = {}
    every = {
        "sex": ("F", "M", "U"),
        "ethnicity_group": tuple(codes.ETHNICITY_GROUPS),
        "age_band": ("0-4", "5-10", "11-15", "16+"),
        "disability": ("yes", "no"),
        "uasc": ("yes", "no"),
    }
    for attribute, known in every.items():
        members: dict[str, list[GenDecision]] = {g: [] for g in known}
        for d in current:
            members.setdefault(groups(d)[attribute], []).append(d)
        for g, ds in members.items():
            if len(ds) < 5:
                by_group[(attribute, g)] = (None, None, None, None)
            else:
                none = sum(d.outcome == "no_household" for d in ds)
                by_group[(attribute, g)] = (len(ds), median([days(d) for d in ds]), p90([days(d) for d in ds]), none)
    return {
        "recorded": len(window),
        "decided": len(current),
        "chosen": len(chosen),
        "none": len(current) - len(chosen),
        "best": sum(not d.departs for d in chosen),
        "override": Counter(c for d in chosen for c in d.reasons),
        "no_household": Counter(c for d in current if d.outcome == "no_household" for c in d.reasons),
        "urgency": {
            u: (len(xs), median(xs), p90(xs))
            for u in codes.URGENCY
            for xs in [[days(d) for d in current if refs[d.referral_id].urgency == u]]
        },
        "by_group": by_group,
    }


def _reported(m: DecisionMonitoring) -> dict[str, Any]:
    return {
        "recorded": m.decisions_recorded,
        "decided": m.referrals_decided,
        "chosen": m.household_chosen,
        "none": m.no_household,
        "best": m.best_ranked_chosen,
        "override": Counter({r.code: r.count for r in m.override_reasons}),
        "no_household": Counter({r.code: r.count for r in m.no_household_reasons}),
        "urgency": {u.urgency: (u.waiting.n, u.waiting.median_days, u.waiting.p90_days) for u in m.by_urgency},
        "by_group": {(g.attribute, g.group): (g.n, g.median_days, g.p90_days, g.no_household) for g in m.by_group},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records(), las=st.sampled_from([{"L001"}, {"L001", "L002"}]))
def test_figures_recomputed_from_the_raw_records_equal_what_is_reported(
    bare_store: Engine, data: tuple[list[GenChild], list[GenReferral], list[GenDecision]], las: set[str]
) -> None:
    children, referrals, decisions = data
    with bare_store.connect() as conn:
        trans = conn.begin()
        try:
            _insert(conn, children, referrals, decisions)
            m = decision_monitoring(conn, scope=Scope(la_codes=frozenset(las)), date_from=FROM, date_to=TO)
        finally:
            trans.rollback()
    expected = _expected(children, referrals, decisions, las)
    assert _reported(m) == expected
    share = m.best_ranked_share
    assert share == (expected["best"] / expected["chosen"] if expected["chosen"] else None)
    # Reasons most frequent first, each in words from the lists; a small group shows no figure at all.
    assert [r.count for r in m.override_reasons] == sorted((r.count for r in m.override_reasons), reverse=True)
    assert all(r.words == OVERRIDE_REASONS[r.code] for r in m.override_reasons)
    for g in m.by_group:
        assert g.suppressed == (g.n is None)
        assert (g.n_text == SUPPRESSED) == g.suppressed
        assert g.suppressed or (g.n is not None and g.n >= SMALL_GROUP)
    plain = m.as_dict()
    assert plain["referrals_decided"] == expected["decided"]
    assert all(isinstance(g["n_text"], str) for g in plain["by_group"])


def test_percentile_is_a_value_that_occurs() -> None:
    assert percentile([5], 90) == 5
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 12)), 90) == 10
    assert percentile([3, 1, 2], 50) == 2


# --- real decisions on real snapshots, on SQLite and PostgreSQL --------------------------------------------------


@pytest.fixture
def decided(engine: Engine, small_folder: Path) -> Engine:
    upgrade(engine)
    import_folder(engine, small_folder)
    snap = _snapshot(engine)
    with engine.begin() as conn:
        actor = officer(conn)
        second = snap.candidates[1]
        # A departure from the ranking, then a changed mind the next day: no household.
        record_decision(
            conn,
            DecisionDraft(
                DecisionOutcome.HOUSEHOLD_CHOSEN,
                "A. Officer",
                second["household_id"],
                reason_codes=("school_stability", "contact"),
                accepted_warnings=tuple(w["code"] for w in second["warnings"]),
            ),
            snap,
            actor=actor,
            now=AT,
        )
        record_decision(
            conn,
            DecisionDraft(DecisionOutcome.NO_HOUSEHOLD, "A. Officer", reason_codes=("no_offer",)),
            snap,
            actor=actor,
            now=AT + timedelta(days=1),
        )
    return engine


def test_the_latest_decision_in_the_window_counts_for_its_referral(decided: Engine) -> None:
    scope = Scope.for_local_authority("L001")
    with decided.connect() as conn:
        both = decision_monitoring(conn, scope=scope, date_from=AT.date(), date_to=AT.date() + timedelta(days=1))
        first = decision_monitoring(conn, scope=scope, date_from=AT.date(), date_to=AT.date())
        elsewhere = decision_monitoring(
            conn, scope=Scope.for_local_authority("L999"), date_from=AT.date(), date_to=AT.date() + timedelta(days=1)
        )
    assert (both.decisions_recorded, both.referrals_decided, both.no_household) == (2, 1, 1)
    assert [(r.code, r.count) for r in both.no_household_reasons] == [("no_offer", 1)]
    assert both.override_reasons == ()
    assert both.best_ranked_share is None
    assert (first.decisions_recorded, first.household_chosen, first.best_ranked_chosen) == (1, 1, 0)
    assert first.best_ranked_share == 0.0
    assert {r.code for r in first.override_reasons} == {"school_stability", "contact"}
    assert elsewhere.decisions_recorded == 0
    assert all(g.suppressed for g in elsewhere.by_group)
    # One child: every group is listed and suppressed (which groups the child is in is not given away), and the
    # answer names nobody.
    assert all(g.suppressed and g.n is None for g in both.by_group)
    assert [(g.attribute, g.group) for g in both.by_group] == [
        *(("sex", s) for s in ("F", "M", "U")),
        *(("ethnicity_group", e) for e in codes.ETHNICITY_GROUPS),
        *(("age_band", a) for a in ("0-4", "5-10", "11-15", "16+")),
        ("disability", "yes"),
        ("disability", "no"),
        ("uasc", "yes"),
        ("uasc", "no"),
    ]
    text = str(both.as_dict())
    for named in ("L001-C", "A. Officer", "L001-H"):
        assert named not in text
