"""Jobs in the store: their states, the moves between them, and the queries the runner and the API need.

A job is ``queued`` when submitted, ``running`` once a runner has claimed it, and ends ``done`` (with its
result), ``failed`` (with an error in plain words), ``cancelled`` (by its owner) or ``interrupted`` (its runner
stopped or died while it ran).  An interrupted job may be queued again by its owner (:func:`restart`); the
other three are final.  Every move is one conditional ``UPDATE`` (``WHERE state IN (...)``), so two processes
racing for a job, or a job cancelled while it finishes, end in exactly one of the allowed states.

A job belongs to the user who started it and to its area (authorities): :func:`readable_by` lets only that
user read it, of its kind, while the area is in their remit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, delete, func, insert, select, update

from matching.access import Principal
from matching.store import schema

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
INTERRUPTED: Final = "interrupted"

#: Where a job may go from each state.  ``done``, ``failed`` and ``cancelled`` are final.
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    QUEUED: frozenset({RUNNING, CANCELLED}),
    RUNNING: frozenset({DONE, FAILED, CANCELLED, INTERRUPTED}),
    INTERRUPTED: frozenset({QUEUED, CANCELLED}),
    DONE: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}
STATES: Final = frozenset(TRANSITIONS)
FINAL: Final = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
#: States in which a job holds no process and waits for nobody: it expires from these.
ENDED: Final = FINAL | {INTERRUPTED}
_FROM: Final = {to: frozenset(s for s, nexts in TRANSITIONS.items() if to in nexts) for to in STATES}

_T = schema.job


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class Job:
    """One piece of long work, as the store holds it."""

    job_id: str
    kind: str
    owner_id: int
    owner: str
    area: frozenset[str]
    parameters: dict[str, Any]
    direct: bool
    state: str
    progress: int
    stage: str
    result: dict[str, Any] | None
    error: str | None
    runner: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None

    @property
    def status(self) -> str:
        """The state (the API's name for it)."""
        return self.state

    @property
    def ended(self) -> bool:
        """True once it holds no process and nobody waits on it (final, or interrupted)."""
        return self.state in ENDED

    def view(self) -> dict[str, Any]:
        """The job as the API shows it (never its parameters)."""
        return {
            "id": self.job_id,
            "kind": self.kind,
            "started_by": self.owner,
            "area": sorted(self.area),
            "status": self.state,
            "progress": self.progress,
            "stage": self.stage,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "expires_at": _iso(self.expires_at),
            "result": self.result,
            "error": self.error,
        }


def _job(row: Any) -> Job:
    created = _utc(row["created_at"])
    assert created is not None
    return Job(
        job_id=row["id"],
        kind=row["kind"],
        owner_id=row["owner_id"],
        owner=row["owner_username"],
        area=frozenset(row["area"] or ()),
        parameters=dict(row["parameters"] or {}),
        direct=bool(row["direct"]),
        state=row["state"],
        progress=int(row["progress"]),
        stage=row["stage"],
        result=row["result"],
        error=row["error"],
        runner=row["runner"],
        created_at=created,
        started_at=_utc(row["started_at"]),
        finished_at=_utc(row["finished_at"]),
        expires_at=_utc(row["expires_at"]),
    )


def readable_by(job: Job | None, kind: str, principal: Principal) -> bool:
    """True if ``principal`` may see ``job`` through a route of ``kind``: they started it, it is of that kind,
    and its area is still in their remit."""
    return (
        job is not None
        and job.kind == kind
        and job.owner_id == principal.user_id
        and job.area <= principal.remit.la_codes
    )


def create(
    conn: Connection,
    *,
    kind: str,
    owner_id: int,
    owner: str,
    area: Iterable[str],
    parameters: Mapping[str, Any],
    direct: bool = False,
    now: datetime | None = None,
) -> Job:
    """A new queued job."""
    job_id = uuid.uuid4().hex
    conn.execute(
        insert(_T).values(
            id=job_id,
            kind=kind,
            owner_id=owner_id,
            owner_username=owner,
            area=sorted(area),
            parameters=dict(parameters),
            direct=direct,
            state=QUEUED,
            progress=0,
            stage=QUEUED,
            created_at=now or utcnow(),
        )
    )
    found = get(conn, job_id)
    assert found is not None
    return found


def get(conn: Connection, job_id: str) -> Job | None:
    """The job of that id, or None."""
    row = conn.execute(select(_T).where(_T.c.id == job_id)).mappings().first()
    return None if row is None else _job(row)


def jobs_of(conn: Connection, owner_id: int, *, kind: str | None = None, limit: int = 20) -> list[Job]:
    """The owner's jobs (of ``kind`` if given), newest first, at most ``limit``; without their results (read one
    with :func:`get`)."""
    columns = [c for c in _T.c if c.name != "result"]
    stmt = select(*columns).where(_T.c.owner_id == owner_id)
    if kind is not None:
        stmt = stmt.where(_T.c.kind == kind)
    rows = conn.execute(stmt.order_by(_T.c.created_at.desc(), _T.c.id).limit(limit)).mappings().all()
    return [_job({**row, "result": None}) for row in rows]


def states(conn: Connection, job_ids: Iterable[str]) -> dict[str, str]:
    """The state of each of these jobs that still exists."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    return {r.id: r.state for r in conn.execute(select(_T.c.id, _T.c.state).where(_T.c.id.in_(ids)))}


def queued_counts(conn: Connection, owner_id: int) -> tuple[int, int]:
    """Jobs waiting to run: in all, and of this owner."""
    rows = conn.execute(select(_T.c.owner_id, func.count()).where(_T.c.state == QUEUED).group_by(_T.c.owner_id)).all()
    counts = {int(o): int(n) for o, n in rows}
    return sum(counts.values()), counts.get(owner_id, 0)


def move(conn: Connection, job_id: str, to: str, **values: Any) -> bool:
    """Put the job in state ``to`` (with ``values``) if its state allows it; True if it did."""
    if to not in STATES:
        raise ValueError(f"unknown job state {to!r}")
    done = conn.execute(
        update(_T).where(_T.c.id == job_id, _T.c.state.in_(sorted(_FROM[to]))).values(state=to, **values)
    )
    return done.rowcount == 1


def claim_next(conn: Connection, runner: str, *, per_user: int, now: datetime | None = None) -> Job | None:
    """Claim the oldest queued job whose owner runs fewer than ``per_user`` jobs (anywhere); a request that is
    waiting for its answer (``direct``) goes first.  None when nothing can start."""
    now = now or utcnow()
    running = conn.execute(select(_T.c.owner_id, func.count()).where(_T.c.state == RUNNING).group_by(_T.c.owner_id))
    busy = sorted(int(o) for o, n in running.all() if n >= per_user)
    stmt = select(_T.c.id).where(_T.c.state == QUEUED)
    if busy:
        stmt = stmt.where(_T.c.owner_id.not_in(busy))
    for job_id in conn.execute(stmt.order_by(_T.c.direct.desc(), _T.c.created_at, _T.c.id).limit(10)).scalars():
        if move(conn, job_id, RUNNING, runner=runner, heartbeat_at=now, started_at=now, progress=0, stage="starting"):
            return get(conn, job_id)
    return None


def report(conn: Connection, job_id: str, progress: int, stage: str) -> bool:
    """Record a running job's progress; False when it is no longer running (cancelled or interrupted)."""
    done = conn.execute(
        update(_T).where(_T.c.id == job_id, _T.c.state == RUNNING).values(progress=progress, stage=stage[:200])
    )
    return done.rowcount == 1


def finish(
    conn: Connection, job_id: str, result: dict[str, Any], *, keep: timedelta, now: datetime | None = None
) -> bool:
    """A running job done with ``result``; False if it was no longer running (its result is dropped)."""
    now = now or utcnow()
    return move(conn, job_id, DONE, result=result, progress=100, stage=DONE, finished_at=now, expires_at=now + keep)


def fail(conn: Connection, job_id: str, error: str, *, keep: timedelta, now: datetime | None = None) -> bool:
    """A running job failed, for the reason ``error`` (plain words, never the input)."""
    now = now or utcnow()
    return move(conn, job_id, FAILED, error=error, stage=FAILED, finished_at=now, expires_at=now + keep)


def cancel(conn: Connection, job_id: str, *, keep: timedelta, now: datetime | None = None) -> bool:
    """Cancel a queued, running or interrupted job (its runner stops the process); False if it had ended."""
    now = now or utcnow()
    return move(conn, job_id, CANCELLED, stage=CANCELLED, finished_at=now, expires_at=now + keep)


def interrupt(conn: Connection, job_ids: Iterable[str], *, keep: timedelta, now: datetime | None = None) -> list[str]:
    """Mark these running jobs interrupted (their runner stopped), except those a request was waiting for, which
    are deleted (nobody can ask for them again); the ids interrupted or deleted."""
    now = now or utcnow()
    out = []
    for job in filter(None, (get(conn, j) for j in sorted(set(job_ids)))):
        if job.state != RUNNING:
            continue
        if job.direct:
            conn.execute(delete(_T).where(_T.c.id == job.job_id, _T.c.state == RUNNING))
            out.append(job.job_id)
        elif move(conn, job.job_id, INTERRUPTED, stage=INTERRUPTED, finished_at=now, expires_at=now + keep):
            out.append(job.job_id)
    return out


def restart(conn: Connection, job_id: str, *, parameters: Mapping[str, Any] | None = None) -> bool:
    """Queue an interrupted job again (progress, times and error cleared; ``parameters`` replaced when given)."""
    values: dict[str, Any] = {
        "progress": 0,
        "stage": QUEUED,
        "result": None,
        "error": None,
        "runner": None,
        "heartbeat_at": None,
        "started_at": None,
        "finished_at": None,
        "expires_at": None,
    }
    if parameters is not None:
        values["parameters"] = dict(parameters)
    return move(conn, job_id, QUEUED, **values)


def heartbeat(conn: Connection, job_ids: Iterable[str], now: datetime | None = None) -> None:
    """The runner of these running jobs is alive."""
    ids = sorted(set(job_ids))
    if ids:
        conn.execute(update(_T).where(_T.c.id.in_(ids), _T.c.state == RUNNING).values(heartbeat_at=now or utcnow()))


def running_elsewhere(conn: Connection, runner: str) -> list[tuple[str, str | None, datetime | None]]:
    """Running jobs and who runs them: (id, runner, last heartbeat), for jobs not run by ``runner``."""
    rows = conn.execute(
        select(_T.c.id, _T.c.runner, _T.c.heartbeat_at).where(_T.c.state == RUNNING, _T.c.runner != runner)
    )
    return [(r.id, r.runner, _utc(r.heartbeat_at)) for r in rows]


def running_of(conn: Connection, runner: str) -> list[str]:
    """The ids of the running jobs ``runner`` claimed."""
    return list(conn.execute(select(_T.c.id).where(_T.c.state == RUNNING, _T.c.runner == runner)).scalars())


def delete_expired(conn: Connection, now: datetime | None = None) -> int:
    """Delete the jobs (and their results) past their expiry; how many."""
    done = conn.execute(delete(_T).where(_T.c.expires_at.is_not(None), _T.c.expires_at < (now or utcnow())))
    return int(done.rowcount or 0)


def remove(conn: Connection, job_id: str) -> None:
    """Delete a job whatever its state (a direct answer once it is given)."""
    conn.execute(delete(_T).where(_T.c.id == job_id))
