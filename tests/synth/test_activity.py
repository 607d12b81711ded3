"""The generated activity: written through the service's own functions by the demonstration accounts, once per
store, the same for the same seed, and whole (every decision's snapshot verifies, every outcome follows its
decision, every answer is for a service the referral was sent to)."""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

from sqlalchemy import Engine, func, select

from matching.access import Actor
from matching.accounts.demo import BUNDLED_LA, seed_demo_accounts
from matching.decisions import decisions_for, load_snapshot
from matching.decisions.monitoring import decision_monitoring
from matching.decisions.outcomes import day_in_england
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.referrals.answers import DECLINE_REASONS
from matching.store import queries, schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from matching.synth.activity import DECLINE_WEIGHTS, ActivitySummary, demo_actors, generate_activity
from matching.taxonomy import load_taxonomy

SCOPE = Scope(la_codes=frozenset({BUNDLED_LA}), agency_codes=frozenset({"LA-L001", "IFA001", "IFA002"}))


def _store(small_folder: Path, tmp_path: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.begin() as conn:
        seed_demo_accounts(conn, environment="development", actor=Actor.system("tests"))
    return engine


def _generate(engine: Engine, seed: int = 7, months: int = 12) -> ActivitySummary:
    with engine.begin() as conn:
        actors = demo_actors(conn)
        assert actors is not None
        assert (actors.placement_officer.username, actors.placement_manager.username) == (
            "demo.placement",
            "demo.manager",
        )
        assert {c: a.username for c, a in actors.service_officers.items()} == {
            "IFA001": "demo.agency", "LA-L001": "demo.fostering",
        }  # fmt: skip
        taxonomy, cfg = load_taxonomy(), load_fit_config()
        pool = load_pool(conn, scope=SCOPE, taxonomy=taxonomy, cfg=cfg)
        return generate_activity(
            conn, la_code=BUNDLED_LA, pool=pool, cfg=cfg, taxonomy=taxonomy, actors=actors,
            on=queries.as_at(conn), seed=seed, months=months,
        )  # fmt: skip


def _statuses(engine: Engine) -> dict[str, str]:
    r = schema.referral
    with engine.connect() as conn:
        return {row.referral_id: row.status for row in conn.execute(select(r.c.referral_id, r.c.status))}


def _decisions(engine: Engine) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    d = schema.placement_decision
    with engine.connect() as conn:
        rows = conn.execute(select(d.c.referral_id, d.c.outcome, d.c.household_id, d.c.reason_codes).order_by(d.c.id))
        return [(r[0], r[1], r[2], tuple(r[3])) for r in rows]


def test_activity_is_whole_written_once_and_the_same_for_the_same_seed(small_folder: Path, tmp_path: Path) -> None:
    engine = _store(small_folder, tmp_path, "a.db")
    statuses = _statuses(engine)
    summary = _generate(engine)
    assert summary.skipped is None
    assert summary.decisions > 10, summary.text()
    assert summary.offers > 0
    assert summary.answers >= summary.offers
    assert summary.started > 0
    assert summary.open_sent > 0
    with engine.connect() as conn:
        referrals = [r for (r,) in conn.execute(select(schema.placement_decision.c.referral_id))]
        decisions = decisions_for(conn, referrals)
        for decision in decisions:
            snapshot = load_snapshot(conn, decision.snapshot_sha256)  # verified against its hash
            assert snapshot is not None
            if decision.household_id is not None and not decision.departs_from_ranking:
                assert decision.household_id == snapshot.best_ranked
        # Every answer is from a service the referral was sent to, and no outcome precedes its decision.
        a, s = schema.carer_answer, schema.referral_sent
        unsent = conn.execute(
            select(func.count())
            .select_from(a)
            .where(
                ~select(s.c.id).where(s.c.referral_id == a.c.referral_id, s.c.agency_code == a.c.agency_code).exists()
            )
        ).scalar_one()
        assert unsent == 0
        o, d = schema.placement_outcome, schema.placement_decision
        for on, decided in conn.execute(select(o.c.on_date, d.c.decided_at).join(d, d.c.id == o.c.decision_id)):
            assert on >= day_in_england(decided if decided.tzinfo else decided.replace(tzinfo=UTC))
        # The imported referrals keep their status (those reopened while decided are matched again); today's open
        # ones stay open.
        assert "open" in statuses.values()
        figures = decision_monitoring(conn, scope=SCOPE, date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))
    assert figures.decisions_recorded == summary.decisions
    assert figures.no_household == summary.no_household
    assert figures.household_chosen - figures.best_ranked_chosen == summary.departures
    assert _statuses(engine) == statuses
    again = _generate(engine)
    assert again.skipped is not None  # once per store
    other = _store(small_folder, tmp_path, "c.db")
    _generate(other)
    assert _decisions(other) == _decisions(engine)  # same seed, same stream


def test_the_generated_decline_reasons_are_ones_the_answers_know() -> None:
    assert DECLINE_WEIGHTS.keys() <= DECLINE_REASONS.keys()
