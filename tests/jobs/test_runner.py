"""The runner: jobs in processes of their own, stopped when cancelled, capped in memory, recovered after a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from matching.jobs import JobLimits, JobRunner, Kind, QueueFullError
from matching.jobs import store as js
from matching.jobs.store import Job
from matching.paths import PROJECT_ROOT
from tests.jobs import kinds
from tests.jobs.conftest import StoreWithUsers

KINDS = {
    "solve": Kind("solve", kinds.long_solve),
    "sleep": Kind("sleep", kinds.sleeper),
    "hog": Kind("hog", kinds.hog),
    "boom": Kind("boom", kinds.boom),
}


@pytest.fixture
def make_runner(jobs_store: StoreWithUsers) -> Iterator[Callable[..., JobRunner]]:
    made: list[JobRunner] = []

    def make(**limits: object) -> JobRunner:
        runner = JobRunner(jobs_store.engine, JobLimits(**{"workers": 1, **limits}), kinds=KINDS)  # type: ignore[arg-type]
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


def _submit(runner: JobRunner, kind: str, owner: int, **parameters: object) -> Job:
    return runner.submit(kind, parameters, owner_id=owner, owner="ann", area=frozenset({"L001"}))


def _until(runner: JobRunner, job_id: str, ok: Callable[[Job], bool], seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        assert job is not None
        if ok(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {runner.get(job_id)}")


def test_cancel_stops_a_running_cp_sat_solve(make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers) -> None:
    runner = make_runner()
    job = _submit(runner, "solve", jobs_store.ann, seconds=120)
    _until(runner, job.job_id, lambda j: j.stage == "solving")
    proc = runner._procs[job.job_id]
    time.sleep(1.0)  # well inside the solve
    asked = time.monotonic()
    cancelled = runner.cancel(job.job_id)
    assert cancelled is not None
    assert cancelled.state == js.CANCELLED
    proc.join(10)
    assert not proc.is_alive(), "the solve's process is still running"
    assert time.monotonic() - asked < 10  # not the 120 s the solve was given
    assert runner.running_here == []
    time.sleep(0.6)  # the runner does not write the killed job's outcome over its cancellation
    after = runner.get(job.job_id)
    assert after is not None
    assert (after.state, after.result, after.error) == (js.CANCELLED, None, None)


def test_a_job_cancelled_through_another_process_is_stopped_too(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner, other = make_runner(), make_runner()
    job = _submit(runner, "sleep", jobs_store.ann, seconds=60)
    _until(runner, job.job_id, lambda j: j.stage == "sleeping")
    proc = runner._procs[job.job_id]
    other.cancel(job.job_id)  # another service process: this runner sees it in the store at its next poll
    proc.join(5)
    assert not proc.is_alive()
    assert runner.get(job.job_id).state == js.CANCELLED  # type: ignore[union-attr]


def test_a_job_over_its_memory_cap_fails_as_out_of_memory(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    capped = make_runner(memory_mb=1024)
    job = _submit(capped, "hog", jobs_store.ann, mb=1024)
    done = _until(capped, job.job_id, lambda j: j.ended)
    assert done.state == js.FAILED
    assert done.error is not None
    assert "memory" in done.error
    capped.stop()  # or it may claim the next job
    uncapped = make_runner(memory_mb=0)
    job = _submit(uncapped, "hog", jobs_store.ann, mb=1024)
    assert _until(uncapped, job.job_id, lambda j: j.ended).state == js.DONE  # the cap, not the machine, refused


def test_a_failure_is_told_in_plain_words_without_the_input(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner = make_runner()
    job = _submit(runner, "boom", jobs_store.ann, child_id="L001-C00042")
    done = _until(runner, job.job_id, lambda j: j.ended)
    assert done.state == js.FAILED
    assert "ValueError" in (done.error or "")
    assert "L001-C00042" not in (done.error or "")


def test_one_user_runs_at_most_their_share_while_another_starts(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner = make_runner(workers=2, per_user=1)
    first = _submit(runner, "sleep", jobs_store.ann, seconds=60)
    second = _submit(runner, "sleep", jobs_store.ann, seconds=60)
    theirs = _submit(runner, "sleep", jobs_store.bob, seconds=60)
    _until(runner, first.job_id, lambda j: j.state == js.RUNNING)
    _until(runner, theirs.job_id, lambda j: j.state == js.RUNNING)
    time.sleep(1.0)
    assert runner.get(second.job_id).state == js.QUEUED  # type: ignore[union-attr]
    runner.cancel(first.job_id)
    _until(runner, second.job_id, lambda j: j.state == js.RUNNING, 10)  # ann's next starts when her first ends
    for job in (second, theirs):
        runner.cancel(job.job_id)


def test_the_backlog_is_bounded_per_user_and_in_all(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner = make_runner(queue_max=3, queue_per_user=2, retry_after_seconds=17)
    runner.stop()  # nothing starts: every job stays queued
    runner.start = lambda: None  # type: ignore[method-assign]
    for _ in range(2):
        _submit(runner, "sleep", jobs_store.ann)
    with pytest.raises(QueueFullError) as full:
        _submit(runner, "sleep", jobs_store.ann)
    assert full.value.retry_after == 17
    _submit(runner, "sleep", jobs_store.bob)
    with pytest.raises(QueueFullError):
        _submit(runner, "sleep", jobs_store.bob)  # bob has one waiting, but three wait in all


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_job_whose_runner_died_is_interrupted_at_start_up_and_can_be_restarted(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    import socket

    with jobs_store.engine.begin() as conn:
        dead = js.create(
            conn, kind="sleep", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={"seconds": 0.2}
        )
        stale = js.create(conn, kind="sleep", owner_id=jobs_store.ann, owner="ann", area=["L001"], parameters={})
        alive = js.create(conn, kind="sleep", owner_id=jobs_store.bob, owner="bob", area=["L001"], parameters={})
        js.move(conn, dead.job_id, js.RUNNING, runner=f"{socket.gethostname()}:{_dead_pid()}:gone",
                heartbeat_at=js.utcnow())  # fmt: skip
        js.move(conn, stale.job_id, js.RUNNING, runner="elsewhere:1:x", heartbeat_at=js.utcnow() - timedelta(minutes=5))
        js.move(conn, alive.job_id, js.RUNNING, runner="elsewhere:2:y", heartbeat_at=js.utcnow())
    runner = make_runner()
    runner.sweep()  # what start-up does first
    assert runner.get(dead.job_id).state == js.INTERRUPTED  # type: ignore[union-attr]
    assert runner.get(stale.job_id).state == js.INTERRUPTED  # type: ignore[union-attr]
    assert runner.get(alive.job_id).state == js.RUNNING  # type: ignore[union-attr]  # another live process's
    again = runner.restart(dead.job_id)
    assert again is not None
    assert again.state in (js.QUEUED, js.RUNNING)  # the dispatcher may have picked it up already (a race)
    done = _until(runner, dead.job_id, lambda j: j.ended, 30)
    assert done.state == js.DONE
    assert runner.restart(dead.job_id) is None  # only an interrupted job restarts


def test_stopping_interrupts_running_jobs_and_keeps_queued_ones(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner = make_runner(per_user=1)
    running = _submit(runner, "sleep", jobs_store.ann, seconds=60)
    waiting = _submit(runner, "sleep", jobs_store.ann, seconds=0.2)
    _until(runner, running.job_id, lambda j: j.stage == "sleeping")
    proc = runner._procs[running.job_id]
    runner.stop()
    assert not proc.is_alive()
    assert runner.get(running.job_id).state == js.INTERRUPTED  # type: ignore[union-attr]
    assert runner.get(waiting.job_id).state == js.QUEUED  # type: ignore[union-attr]
    successor = make_runner(per_user=1)
    successor.start()
    assert _until(successor, waiting.job_id, lambda j: j.ended, 30).state == js.DONE


def test_expired_jobs_are_deleted_by_the_sweep(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers
) -> None:
    runner = make_runner(keep=timedelta(seconds=0.5))
    job = _submit(runner, "sleep", jobs_store.ann, seconds=0.1)
    _until(runner, job.job_id, lambda j: j.state == js.DONE, 30)
    time.sleep(0.6)
    runner.sweep()
    assert runner.get(job.job_id) is None


CRASHING_SERVICE = """
import sys, time
from matching.jobs import JobLimits, JobRunner, Kind
from matching.store.engine import make_engine
from tests.jobs import kinds

if __name__ == "__main__":
    runner = JobRunner(make_engine(sys.argv[1]), JobLimits(workers=1), kinds={"sleep": Kind("sleep", kinds.sleeper)})
    job = runner.submit("sleep", {"seconds": 120}, owner_id=int(sys.argv[2]), owner="ann", area=frozenset({"L001"}))
    while not runner.running_here or runner.get(job.job_id).stage != "sleeping":
        time.sleep(0.05)
    print(job.job_id, runner._procs[job.job_id].pid, flush=True)
    time.sleep(600)
"""


def test_a_service_killed_outright_leaves_no_job_running(
    make_runner: Callable[..., JobRunner], jobs_store: StoreWithUsers, tmp_path: Path
) -> None:
    import signal

    script = tmp_path / "service.py"
    script.write_text(CRASHING_SERVICE)
    url = jobs_store.engine.url.render_as_string(hide_password=False)
    paths = [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]  # the tests' package, as under pytest
    service = subprocess.Popen(
        [sys.executable, str(script), url, str(jobs_store.ann)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
    )
    try:
        assert service.stdout is not None
        job_id, pid = service.stdout.readline().split()
    finally:
        service.send_signal(signal.SIGKILL)  # no shutdown: the runner cannot mark anything
        service.wait()
    deadline = time.monotonic() + 10
    while _alive(int(pid)):
        assert time.monotonic() < deadline, "the job's process outlived the service"
        time.sleep(0.1)
    successor = make_runner()
    assert successor.get(job_id).state == js.RUNNING  # type: ignore[union-attr]  # as the dead service left it
    successor.start()  # start-up sweeps: the dead process was on this host
    assert _until(successor, job_id, lambda j: j.state != js.RUNNING, 10).state == js.INTERRUPTED


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purposes
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
