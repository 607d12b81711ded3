"""Jobs in the store: the moves between states, who may read a job, and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert

from matching.access import Principal, Remit, Role
from matching.jobs import store
from matching.jobs.store import CANCELLED, DONE, ENDED, FAILED, FINAL, INTERRUPTED, QUEUED, RUNNING, TRANSITIONS
from matching.store import schema
from tests.jobs.conftest import StoreWithUsers

KEEP = timedelta(days=7)
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

_ENGINE = create_engine("sqlite://")
schema.metadata.create_all(_ENGINE)
with _ENGINE.begin() as _c:
    _c.execute(
        insert(schema.user_account).values(
            id=1,
            username="ann",
            display_name="Ann",
            role="commissioning_lead",
            la_codes=["L001"],
            agency_codes=[],
            disabled=False,
            created_at=T0,
            updated_at=T0,
        )
    )

OPERATIONS = ("claim", "report", "finish", "fail", "cancel", "interrupt", "restart", "heartbeat", "expire")


def _apply(conn: object, op: str, job_id: str, now: datetime) -> None:
    c = conn
    if op == "claim":
        store.claim_next(c, "host:1:x", per_user=10, now=now)  # type: ignore[arg-type]
    elif op == "report":
        store.report(c, job_id, 50, "half way")  # type: ignore[arg-type]
    elif op == "finish":
        store.finish(c, job_id, {"ok": True}, keep=KEEP, now=now)  # type: ignore[arg-type]
    elif op == "fail":
        store.fail(c, job_id, "it failed", keep=KEEP, now=now)  # type: ignore[arg-type]
    elif op == "cancel":
        store.cancel(c, job_id, keep=KEEP, now=now)  # type: ignore[arg-type]
    elif op == "interrupt":
        store.interrupt(c, [job_id], keep=KEEP, now=now)  # type: ignore[arg-type]
    elif op == "restart":
        store.restart(c, job_id)  # type: ignore[arg-type]
    elif op == "heartbeat":
        store.heartbeat(c, [job_id], now=now)  # type: ignore[arg-type]
    elif op == "expire":
        store.delete_expired(c, now + KEEP + timedelta(seconds=1))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(st.sampled_from(OPERATIONS), max_size=14), direct=st.booleans())
def test_a_job_only_ever_makes_allowed_moves_and_never_leaves_a_final_state(ops: list[str], direct: bool) -> None:
    with _ENGINE.begin() as conn:
        job = store.create(conn, kind="allocation", owner_id=1, owner="ann", area=["L001"], parameters={}, direct=direct,
                           now=T0)  # fmt: skip
        before = job.state
        for step, op in enumerate(ops):
            now = T0 + timedelta(minutes=step + 1)
            _apply(conn, op, job.job_id, now)
            after = store.get(conn, job.job_id)
            if after is None:  # only expiry deletes an ended job; an interrupted direct job is deleted at once
                assert (op == "expire" and before in ENDED) or (op == "interrupt" and direct and before == RUNNING)
                break
            assert after.state == before or after.state in TRANSITIONS[before], (before, op, after.state)
            assert before not in FINAL or after.state == before
            assert (after.result is not None) == (after.state == DONE)
            assert (after.error is not None) == (after.state == FAILED)
            assert (after.expires_at is not None) == (after.state in ENDED)
            assert (after.finished_at is not None) == (after.state in ENDED)
            assert 0 <= after.progress <= 100
            assert after.state != INTERRUPTED or not direct
            before = after.state
        store.remove(conn, job.job_id)


def test_two_runners_never_both_claim_a_job(jobs_store: StoreWithUsers) -> None:
    with jobs_store.engine.begin() as conn:
        job = store.create(conn, kind="allocation", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        assert store.claim_next(conn, "a:1:x", per_user=2) is not None
        assert store.claim_next(conn, "b:2:y", per_user=2) is None
        claimed = store.get(conn, job.job_id)
    assert claimed is not None
    assert (claimed.state, claimed.runner) == (RUNNING, "a:1:x")


def test_an_owner_at_their_limit_waits_while_others_start(jobs_store: StoreWithUsers) -> None:
    ann, bob = jobs_store.ann, jobs_store.bob
    with jobs_store.engine.begin() as conn:
        first = store.create(conn, kind="allocation", owner_id=ann, owner="ann", area=["L001"], parameters={})
        store.create(conn, kind="allocation", owner_id=ann, owner="ann", area=["L001"], parameters={})
        theirs = store.create(conn, kind="allocation", owner_id=bob, owner="bob", area=["L001"], parameters={})
        assert store.claim_next(conn, "r", per_user=1).job_id == first.job_id  # type: ignore[union-attr]
        assert store.claim_next(conn, "r", per_user=1).job_id == theirs.job_id  # type: ignore[union-attr]
        assert store.claim_next(conn, "r", per_user=1) is None  # ann's second waits for her first
        assert store.queued_counts(conn, ann) == (1, 1)
        assert store.queued_counts(conn, bob) == (1, 0)


def test_a_direct_request_goes_first(jobs_store: StoreWithUsers) -> None:
    with jobs_store.engine.begin() as conn:
        store.create(conn, kind="sufficiency", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        waiting = store.create(conn, kind="allocation", owner_id=jobs_store.bob, owner="bob", area=["L001"],
                               parameters={}, direct=True)  # fmt: skip
        assert store.claim_next(conn, "r", per_user=2).job_id == waiting.job_id  # type: ignore[union-attr]


def test_expired_jobs_and_their_results_are_deleted(jobs_store: StoreWithUsers) -> None:
    with jobs_store.engine.begin() as conn:
        old = store.create(conn, kind="allocation", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        new = store.create(conn, kind="allocation", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        waiting = store.create(conn, kind="allocation", owner_id=jobs_store.ann, owner="ann", area=["L001"],
                               parameters={})  # fmt: skip
        for job, at in ((old, T0), (new, T0 + timedelta(days=6))):
            store.move(conn, job.job_id, RUNNING, runner="r", started_at=at)
            store.finish(conn, job.job_id, {"assignments": [{"child_id": "L001-C1"}]}, keep=KEEP, now=at)
        assert store.delete_expired(conn, T0 + timedelta(days=8)) == 1
        assert store.get(conn, old.job_id) is None
        assert store.get(conn, new.job_id) is not None
        assert store.get(conn, waiting.job_id) is not None  # not ended: never expires


def test_only_its_owner_reads_a_job_of_its_kind_while_its_area_is_in_remit() -> None:
    job = store.Job(
        "j", "allocation", 7, "ann", frozenset({"L001"}), {}, False, QUEUED, 0, "queued", None, None, None, T0,
        None, None, None,
    )  # fmt: skip

    def who(user_id: int, las: set[str]) -> Principal:
        return Principal(user_id, "x", Role.COMMISSIONING_LEAD, Remit(frozenset(las), frozenset()))

    assert store.readable_by(job, "allocation", who(7, {"L001", "L002"}))
    assert not store.readable_by(job, "sufficiency", who(7, {"L001"}))  # another kind's route
    assert not store.readable_by(job, "allocation", who(8, {"L001"}))  # another user, same remit
    assert not store.readable_by(job, "allocation", who(7, {"L002"}))  # the area left their remit
    assert not store.readable_by(None, "allocation", who(7, {"L001"}))


@pytest.mark.parametrize("state", sorted(FINAL))
def test_a_final_job_cannot_be_cancelled_restarted_or_finished_again(jobs_store: StoreWithUsers, state: str) -> None:
    with jobs_store.engine.begin() as conn:
        job = store.create(conn, kind="allocation", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        store.move(conn, job.job_id, RUNNING, runner="r")
        {DONE: lambda: store.finish(conn, job.job_id, {}, keep=KEEP),
         FAILED: lambda: store.fail(conn, job.job_id, "x", keep=KEEP),
         CANCELLED: lambda: store.cancel(conn, job.job_id, keep=KEEP)}[state]()  # fmt: skip
        assert not store.cancel(conn, job.job_id, keep=KEEP)
        assert not store.restart(conn, job.job_id)
        assert not store.finish(conn, job.job_id, {"late": True}, keep=KEEP)
        assert store.get(conn, job.job_id).state == state  # type: ignore[union-attr]


def test_an_owners_jobs_are_theirs_only_newest_first_without_results(jobs_store: StoreWithUsers) -> None:
    ann, bob = jobs_store.ann, jobs_store.bob
    with jobs_store.engine.begin() as conn:
        made = [
            store.create(
                conn, kind=kind, owner_id=ann, owner="ann", area=["L001"], parameters={}, now=T0 + timedelta(minutes=i)
            )
            for i, kind in enumerate(("allocation", "sufficiency", "allocation"))
        ]
        store.create(conn, kind="allocation", owner_id=bob, owner="bob", area=["L001"], parameters={})
        store.move(conn, made[0].job_id, RUNNING, runner="r", started_at=T0)
        store.finish(conn, made[0].job_id, {"assignments": []}, keep=KEEP, now=T0)
        assert [j.job_id for j in store.jobs_of(conn, ann)] == [j.job_id for j in reversed(made)]
        assert [j.job_id for j in store.jobs_of(conn, ann, kind="allocation")] == [made[2].job_id, made[0].job_id]
        assert [j.job_id for j in store.jobs_of(conn, ann, limit=1)] == [made[2].job_id]
        assert all(j.result is None for j in store.jobs_of(conn, ann))
        assert store.jobs_of(conn, bob)[0].owner == "bob"
