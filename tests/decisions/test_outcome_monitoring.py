"""The outcome side of monitoring: estimated against observed 12-month stability, carers' decline reasons and offers
per referral are what the raw records say (a property test recomputes them by hand from generated decisions,
snapshots, outcomes and carers' answers); too few placements give no rate; small groups are suppressed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, insert, select, update

from matching import codes
from matching.decisions.monitoring_outcomes import (
    TOO_FEW,
    Calibration,
    OutcomeMonitoring,
    StabilityRow,
    outcome_monitoring,
    predicted_for,
)
from matching.decisions.outcomes import NOT_LASTING_REC, lasted_a_year
from matching.domain import Scope
from matching.store import schema
from tests.decisions.test_monitoring import (
    FROM,
    LAS,
    TO,
    GenChild,
    GenDecision,
    GenReferral,
    _band,
    _insert,
)

AS_AT = date(2027, 9, 1)  # placements started by 2026-09-01 are a year on
HOUSEHOLDS = ("H1", "H2", "H3", "H4")
DECLINES = ("no_space", "needs", "age", "")
RECS = ("X1", "E4A", "E4B", "E11", "E13")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Tables only (no foreign keys enforced, no append-only triggers: each example is rolled back)."""
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('outcome-monitoring') / 'store.db'}")
    schema.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _gen_outcomes(draw: st.DrawFn, n_decisions: int) -> list[list[tuple[str, date, str | None]]]:
    """For each decision: outcome rows (kind, day, reason), oldest first: mostly a start, often an end, now and
    then a corrected start or a "did not start"."""
    out = []
    for _ in range(n_decisions):
        rows: list[tuple[str, date, str | None]] = []
        if draw(st.sampled_from((True, True, True, True, False))):
            start = date(2025, 10, 1) + timedelta(days=draw(st.integers(0, 400)))
            rows.append(("started", start, None))
            if draw(st.sampled_from((True, False))):
                rows.append(("ended", start + timedelta(days=draw(st.integers(0, 500))), draw(st.sampled_from(RECS))))
            if draw(st.sampled_from((False,) * 5 + (True,))):
                rows.append(("started", start + timedelta(days=draw(st.integers(-30, 30))), None))
        if draw(st.sampled_from((False,) * 9 + (True,))):
            rows.append(("not_started", date(2026, 3, 1), "other"))
        out.append(rows)
    return out


@st.composite
def world(draw: st.DrawFn) -> dict[str, Any]:
    # enough children for groups of five and more (the decision side's generator draws mostly few)
    children = [
        GenChild(
            f"C{i}",
            draw(st.sampled_from(LAS)),
            date(draw(st.integers(2006, 2025)), draw(st.integers(1, 12)), 1),
            draw(st.sampled_from(("M", "F", "M", "F", "U"))),
            draw(st.sampled_from(("WBRI", "WBRI", "MWBC", "BAFR", "ABAN", "OOTH"))),
            draw(st.booleans()),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(10, 40)))
    ]
    referrals = [
        GenReferral(f"R{i}", c.child_id, date(2025, 10, 1) + timedelta(days=draw(st.integers(0, 170))), "planned")
        for i, c in enumerate(children)
    ]
    chosen = st.sampled_from((True, True, True, False))
    decisions = [
        GenDecision(
            r.referral_id,
            datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 88 * 24 * 60))),
            "household_chosen" if draw(chosen) else "no_household",
            False,
            (),
        )
        for r in referrals
        for _ in range(draw(st.sampled_from((1, 1, 1, 2, 0))))
    ]
    kinds = st.sampled_from(("estimate",) * 4 + ("none", "unranked"))
    snapshots = [
        {"estimate": draw(st.integers(0, 100)) / 100, "none": None, "unranked": -1.0}[draw(kinds)] for _ in decisions
    ]  # mostly an estimate; None: no estimate shown; -1: the household was not among those ranked
    outcomes = _gen_outcomes(draw, len(decisions))
    answers = [
        (r.referral_id, draw(st.sampled_from(HOUSEHOLDS)), draw(st.sampled_from(["agreed", "declined", "more_information"])),
         draw(st.sampled_from(DECLINES)))
        for r in referrals
        for _ in range(draw(st.integers(0, 4)))
    ]  # fmt: skip
    return {"children": children, "referrals": referrals, "decisions": decisions, "snapshots": snapshots,
            "outcomes": outcomes, "answers": answers}  # fmt: skip


def _write(conn: Any, w: dict[str, Any]) -> None:
    _insert(conn, w["children"], w["referrals"], w["decisions"])
    ids = [r.id for r in conn.execute(select(schema.placement_decision.c.id).order_by(schema.placement_decision.c.id))]
    base = datetime(2026, 12, 1, tzinfo=UTC)
    for i, (decision_id, p) in enumerate(zip(ids, w["snapshots"], strict=True)):
        sha = f"{i + 1:064d}"
        candidates = [] if p == -1.0 else [{"household_id": "H1", "stability": None if p is None else {"p_lasting": p}}]
        conn.execute(
            insert(schema.recommendation_snapshot).values(
                sha256=sha, referral_id="R", taken_at=base, payload={"ranking": {"candidates": candidates}}
            )
        )
        conn.execute(
            update(schema.placement_decision)
            .where(schema.placement_decision.c.id == decision_id)
            .values(snapshot_sha256=sha)
        )
        for k, (kind, on, reason) in enumerate(w["outcomes"][i]):
            conn.execute(
                insert(schema.placement_outcome).values(
                    decision_id=decision_id, kind=kind, on_date=on, reason_code=reason, recorded_by_user_id=1,
                    recorded_by="deb", recorded_at=base + timedelta(minutes=k), source="recorded",
                )
            )  # fmt: skip
    for k, (ref, hh, answer, reason) in enumerate(w["answers"]):
        conn.execute(
            insert(schema.carer_answer).values(
                referral_id=ref, household_id=hh, agency_code="A", answer=answer,
                reason_code=(reason or None) if answer == "declined" else None, recorded_by_user_id=1,
                recorded_by="fay", recorded_at=base + timedelta(minutes=k),
            )
        )  # fmt: skip


def _groups(child: GenChild, referral: GenReferral) -> dict[str, str]:
    eth = next(g for g, members in codes.ETHNICITY_GROUPS.items() if child.ethnicity in members)
    return {
        "sex": child.sex,
        "ethnicity_group": eth,
        "age_band": _band(child.birth_month, referral.referral_date),
        "disability": "yes" if child.disability else "no",
        "uasc": "yes" if child.uasc else "no",
    }


def _calibration(rows: list[tuple[float | None, bool | None]]) -> tuple[Any, ...]:
    observed = [(p, lasted) for p, lasted in rows if lasted is not None]
    compared = [(p, lasted) for p, lasted in observed if p is not None]
    n = len(compared)
    if n < 5:
        return (len(rows), len(rows) - len(observed), len(observed) - n, n, None, None)
    return (
        len(rows),
        len(rows) - len(observed),
        len(observed) - n,
        n,
        round(sum(p for p, _ in compared) / n, 9),  # type: ignore[misc]
        round(sum(bool(lasted) for _, lasted in compared) / n, 9),
    )


def _expected(w: dict[str, Any], las: set[str]) -> dict[str, Any]:
    """Worked out directly from the generated records, apart from the library."""
    kids = {c.child_id: c for c in w["children"] if c.la_code in las}
    refs = {r.referral_id: r for r in w["referrals"] if r.child_id in kids}
    decisions: list[GenDecision] = w["decisions"]
    window = [i for i, d in enumerate(decisions) if d.referral_id in refs and FROM <= d.decided_at.date() <= TO]
    latest: dict[str, int] = {}
    for i in sorted(window, key=lambda i: (decisions[i].decided_at, i)):
        latest[decisions[i].referral_id] = i
    current = list(latest.values())
    placed: list[tuple[int, float | None, bool | None]] = []
    for i in current:
        d = decisions[i]
        if d.outcome != "household_chosen":
            continue
        now: dict[str, tuple[date, str | None]] = {}
        for kind, on, reason in w["outcomes"][i]:
            now[kind] = (on, reason)
        if "started" not in now or "not_started" in now:
            continue
        start = now["started"][0]
        lasted: bool | None = None
        if (AS_AT - start).days >= 365:
            lasted = True
            if "ended" in now and (now["ended"][0] - start).days <= 365:
                lasted = now["ended"][1] not in {"X1", "E4B"}
        p = w["snapshots"][i]
        placed.append((i, None if p in (None, -1.0) else p, lasted))
    months: dict[str, list[tuple[float | None, bool | None]]] = defaultdict(list)
    for i, p, lasted in placed:
        months[decisions[i].decided_at.strftime("%Y-%m")].append((p, lasted))

    def groups_of(i: int) -> dict[str, str]:
        r = refs[decisions[i].referral_id]
        return _groups(kids[r.child_id], r)

    every = {
        "sex": ("F", "M", "U"),
        "ethnicity_group": tuple(codes.ETHNICITY_GROUPS),
        "age_band": ("0-4", "5-10", "11-15", "16+"),
        "disability": ("yes", "no"),
        "uasc": ("yes", "no"),
    }
    by_group: dict[tuple[str, str], Any] = {}
    offers_by_group: dict[tuple[str, str], Any] = {}
    standing: dict[tuple[str, str], tuple[str, str]] = {}
    for ref, hh, answer, reason in w["answers"]:
        standing[(ref, hh)] = (answer, reason)
    decided = {decisions[i].referral_id for i in current}
    offers = Counter(ref for (ref, _), (answer, _) in standing.items() if answer == "agreed" and ref in decided)
    declines = Counter(
        (reason or "not_given") for (ref, _), (answer, reason) in standing.items() if answer == "declined" and ref in decided
    )  # fmt: skip
    for attribute, known in every.items():
        members: dict[str, list[tuple[float | None, bool | None]]] = {g: [] for g in known}
        for i, p, lasted in placed:
            members.setdefault(groups_of(i)[attribute], []).append((p, lasted))
        for g, rows in members.items():
            by_group[(attribute, g)] = None if len(rows) < 5 else _calibration(rows)
        referrals: dict[str, list[str]] = {g: [] for g in known}
        for i in current:
            referrals.setdefault(groups_of(i)[attribute], []).append(decisions[i].referral_id)
        for g, rs in referrals.items():
            offers_by_group[(attribute, g)] = (
                None if len(rs) < 5 else (len(rs), sum(offers[r] for r in rs), sum(offers[r] == 0 for r in rs))
            )
    return {
        "overall": _calibration([(p, lasted) for _, p, lasted in placed]),
        "months": {m: _calibration(rows) for m, rows in months.items()},
        "by_group": by_group,
        "declines": dict(declines),
        "referrals": len(decided),
        "offers": sum(offers.values()),
        "offers_by_group": offers_by_group,
    }


def _cal(c: Calibration) -> tuple[Any, ...]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 9)

    return (c.started, c.pending, c.no_estimate, c.n, r(c.mean_predicted), r(c.observed_rate))


def _reported(o: OutcomeMonitoring) -> dict[str, Any]:
    return {
        "overall": _cal(o.calibration),
        "months": {m.month: _cal(m.calibration) for m in o.by_month},
        "by_group": {
            (g.attribute, g.group): None if g.calibration is None else _cal(g.calibration) for g in o.by_group
        },
        "declines": {d.code: d.count for d in o.decline_reasons},
        "referrals": o.referrals,
        "offers": o.offers,
        "offers_by_group": {
            (g.attribute, g.group): None if g.suppressed else (g.referrals, g.offers, g.no_offer)
            for g in o.offers_by_group
        },
    }


def test_figures_recomputed_from_the_raw_records_equal_what_is_reported(store: Engine) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(w=world(), las=st.sampled_from([{"L001"}, {"L001", "L002"}]))
    def check(w: dict[str, Any], las: set[str]) -> None:
        with store.connect() as conn:
            trans = conn.begin()
            try:
                _write(conn, w)
                scope = Scope(la_codes=frozenset(las))
                o = outcome_monitoring(conn, scope=scope, date_from=FROM, date_to=TO, as_at=AS_AT)
            finally:
                trans.rollback()
        assert _reported(o) == _expected(w, las)
        seen["calibrated"] += o.calibration.n >= TOO_FEW
        seen["group calibrated"] += any(g.calibration is not None and not g.calibration.too_few for g in o.by_group)
        seen["offers by group"] += any(not g.suppressed for g in o.offers_by_group)
        seen["declines"] += bool(o.decline_reasons)
        # a rate only from enough placements; the difference is observed minus estimated; most frequent first
        for c in [o.calibration, *(m.calibration for m in o.by_month)]:
            assert (c.observed_rate is None) == (c.n < TOO_FEW)
            if c.difference is not None:
                assert c.difference == pytest.approx((c.observed_rate or 0) - (c.mean_predicted or 0))
        assert [d.count for d in o.decline_reasons] == sorted((d.count for d in o.decline_reasons), reverse=True)
        plain = o.as_dict()
        assert all(isinstance(g["n_text"], str) for g in [*plain["by_group"], *plain["offers_by_group"]])

    check()
    # the generated records were rich enough for the figures above to be real rates, not only "too few"
    assert min(seen[k] for k in ("calibrated", "group calibrated", "offers by group", "declines")) >= 3, seen


def test_a_year_lasted_counts_only_endings_that_are_no_planned_end_within_the_year() -> None:
    start = date(2025, 1, 10)
    assert lasted_a_year(start, None, None, date(2026, 1, 9)) is None  # not yet a year on: pending
    assert lasted_a_year(start, None, None, date(2026, 1, 10)) is True
    assert lasted_a_year(start, date(2025, 6, 1), "X1", date(2026, 6, 1)) is False
    assert lasted_a_year(start, date(2025, 6, 1), "E4B", date(2026, 6, 1)) is False
    assert lasted_a_year(start, date(2025, 6, 1), "E4A", date(2026, 6, 1)) is True  # returned home as planned
    assert lasted_a_year(start, date(2026, 3, 1), "X1", date(2026, 6, 1)) is True  # ended after the year
    assert {"X1", "E4B"} == NOT_LASTING_REC


def test_the_estimate_is_the_chosen_household_s_as_shown() -> None:
    payload = {"ranking": {"candidates": [{"household_id": "H1", "stability": {"p_lasting": 0.8}},
                                          {"household_id": "H2", "stability": None}]}}  # fmt: skip
    assert predicted_for(payload, "H1") == 0.8
    assert predicted_for(payload, "H2") is None
    assert predicted_for(payload, "H9") is None
    assert predicted_for({}, "H1") is None


def test_too_few_placements_give_no_rate() -> None:
    from matching.decisions.monitoring import DecisionRow

    def row(i: int, lasted: bool | None, p: float | None = 0.7) -> StabilityRow:
        d = DecisionRow(i, f"R{i}", datetime(2025, 1, 1, tzinfo=UTC), "household_chosen", False, (), date(2025, 1, 1),
                        "planned", {})  # fmt: skip
        return StabilityRow(d, p, date(2025, 1, 5), lasted)

    four = Calibration.of([row(i, True) for i in range(4)] + [row(9, None), row(10, True, None)])
    assert (four.started, four.pending, four.no_estimate, four.n, four.observed_rate) == (6, 1, 1, 4, None)
    five = Calibration.of([row(i, i != 0) for i in range(5)])
    assert five.observed_rate == pytest.approx(0.8)
    assert five.difference == pytest.approx(0.1)
