"""Store kill benchmark (issue 17, item 5): ``kill -9`` at random moments of a store's first open and of an
import, then check the store.

Targets: stores that fail to open afterwards 0; half-written imports 0 (after a killed import the data tables
hold nothing from it or all of it); first opens that leave part of a migration 0 (the store has exactly the
tables of the revision ``alembic_version`` names).

Each trial forks a child from this process (the modules are loaded already, so the child starts in about a
millisecond), which runs one operation on its own connections:

* first open: ``open_store`` on an empty database, i.e. every migration from nothing to the newest;
* import: ``import_folder`` of one generated local authority (seed 17, about 11,000 rows; validated once in the
  parent, so the child spends its time writing) into a migrated, empty store.

The child notes its progress in a page of memory shared with the parent (each statement that writes, the
commit issued, the end).  Each kill is aimed at a moment drawn at random: four times in five at one of the
operation's writes, drawn uniformly (the first open's DDL statements and version stamps, the import's deletes
and batched inserts; their number is printed), SIGKILL following by a random delay of up to the mean time
between two writes, so it lands inside the next statement or between two; once in five at the commit, SIGKILL
following by up to the commit's duration (the fsync).  Aiming by progress rather than by time keeps the kills
inside the operation on a loaded machine; five runs that are not killed give the writes and the times first.
Where each kill landed (while writing, during the commit, or not at all because the operation had ended) is
printed.  Then the parent checks the store with fresh connections:

* first open: the tables present are exactly those of the revision recorded (none, or the newest); then
  ``open_store`` must succeed and leave it at the newest revision;
* import: ``open_store`` must succeed; ``import_run`` has no row and every data table is empty, or it has one
  row and every table holds the rows that row records (the generated files' row counts); SQLite's
  ``PRAGMA integrity_check`` says ``ok``.

SQLite always; PostgreSQL too when the server answers (a scratch database, dropped at the end).  Linux or
macOS (``os.fork``).

Run: ``make bench-store`` (``benchmarks/bench_store_kill.py [--trials 200] [--postgres URL] [--pg-name NAME]
[--moments "first open" import]``).
"""

from __future__ import annotations

import argparse
import contextlib
import mmap
import os
import random
import shutil
import signal
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.pool import NullPool

from matching.contract.validate import ValidationReport, validate_folder
from matching.store import schema
from matching.store.engine import StoreError, make_engine, open_store
from matching.store.importer import import_folder
from matching.store.queries import count_rows
from matching.synth.generator import generate

SEED = 17
MOMENTS = ("first open", "import")
#: Share of the kills aimed at the commit (the others at a write drawn uniformly).
COMMIT_SHARE = 0.2


@dataclass
class Tally:
    """What the trials of one (store, moment) found."""

    trials: int = 0
    landed: Counter[str] = field(default_factory=Counter)  # where the kills landed
    failed_to_open: int = 0
    partial_schema: int = 0
    half_written: int = 0
    corrupt: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timing: Timing | None = None


def _quiet_engine(url: str) -> Engine:
    """A checking engine with no pooled connections (none are open when the next child is forked)."""
    return create_engine(url, poolclass=NullPool)


#: Statements that write: the kills are aimed at these and at the commit.
_WRITES = frozenset({"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "COMMENT"})
#: Where the child has got to, in a page shared with the parent: first write, commit issued, end (times), writes
#: so far, and the time of the fork.
_FIRST_WRITE, _COMMIT, _END, _COUNT, _START = range(5)
_SHARED = mmap.mmap(-1, 40)


def _put(slot: int, value: float) -> None:
    struct.pack_into("d", _SHARED, 8 * slot, value)


def _get(slot: int) -> float:
    return float(struct.unpack_from("d", _SHARED, 8 * slot)[0])


def _instrument() -> None:
    """In the child: note the first write, the commit and the number of writes in the shared page."""
    writes = [0]

    def after(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        words = statement.split(None, 1)
        if words and words[0].upper() in _WRITES:
            writes[0] += 1
            if writes[0] == 1:
                _put(_FIRST_WRITE, time.perf_counter())
            _put(_COUNT, writes[0])

    def commit(_conn: object) -> None:
        if writes[0]:
            _put(_COMMIT, time.perf_counter())

    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "commit", commit)


@dataclass(frozen=True)
class Aim:
    """Kill once the child has made ``write`` writes (``write`` past the last: once it has issued the commit),
    ``extra`` seconds later."""

    write: int
    extra: float


def _reached(aim: Aim, writes: int) -> bool:
    return _get(_COMMIT) > 0 if aim.write > writes else _get(_COUNT) >= aim.write


def fork_and_kill(op: Callable[[], None], aim: Aim | None, writes: int = 0) -> str:
    """Run ``op`` in a forked child and SIGKILL it at ``aim`` (``None``: let it end); ``writes`` it makes in all.

    Returns where the kill landed, or ``finished`` (it ended first), or ``failed`` (it failed by itself)."""
    for slot in range(4):
        _put(slot, 0.0)
    _put(_START, time.perf_counter())
    pid = os.fork()
    if pid == 0:  # the child: no cleanup of any kind on the way out
        code = 0
        try:
            _instrument()
            op()
            _put(_END, time.perf_counter())
        except BaseException:
            code = 1
        os._exit(code)
    status = None
    if aim is not None:
        deadline = time.monotonic() + 120
        while not _reached(aim, writes) and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.0002)
        else:
            time.sleep(aim.extra)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = None
    if status is None:
        _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        return "finished" if os.WEXITSTATUS(status) == 0 else "failed"
    if not _get(_FIRST_WRITE):
        return "before writing"
    if not _get(_COMMIT):
        return "while writing"
    if not _get(_END):
        return "during the commit"
    return "after the commit"


@dataclass(frozen=True)
class Timing:
    """An operation not killed (medians of a few runs): its writes, the seconds between two, the commit's seconds."""

    writes: int
    gap: float
    commit: float
    total: float


def measure(op: Callable[[], None], reset: Callable[[], None], times: int = 5) -> Timing:
    """How ``op`` runs in a forked child, not killed."""
    runs = []
    for _ in range(times):
        reset()
        if fork_and_kill(op, None) != "finished":
            raise SystemExit("the operation fails without being killed: fix that first")
        first, commit, end, writes = (_get(slot) for slot in (_FIRST_WRITE, _COMMIT, _END, _COUNT))
        runs.append((int(writes), (commit - first) / max(1, writes - 1), end - commit, end - _get(_START)))
    counts = {r[0] for r in runs}
    if len(counts) != 1:
        raise SystemExit(f"the operation's writes vary between runs ({sorted(counts)}): cannot aim at them")

    def median(i: int) -> float:
        return sorted(r[i] for r in runs)[times // 2]

    return Timing(runs[0][0], median(1), median(2), median(3))


def tables_by_revision(workdir: Path) -> tuple[dict[str | None, set[str]], str]:
    """The tables a store has at each revision (built one revision at a time), and the newest revision."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from matching.store.engine import alembic_config

    engine = make_engine(f"sqlite:///{workdir / 'revisions.db'}")
    cfg = alembic_config(engine)
    out: dict[str | None, set[str]] = {None: set()}
    head = None
    for rev in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())):
        command.upgrade(cfg, rev.revision)
        out[rev.revision] = set(inspect(engine).get_table_names()) - {"alembic_version"}
        head = rev.revision
    engine.dispose()
    assert head is not None
    return out, head


def store_state(url: str) -> tuple[str | None, set[str]]:
    """The revision a store names (None when none) and its tables, read without changing anything."""
    engine = _quiet_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            rev = None
            if "alembic_version" in tables:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                rev = rows[0] if len(rows) == 1 else (None if not rows else ",".join(rows))
        return rev, tables - {"alembic_version"}
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}"[:300]


def check_first_open(url: str, expected: dict[str | None, set[str]], head: str, tally: Tally) -> None:
    rev, tables = store_state(url)
    if rev not in expected or tables != expected[rev]:
        tally.partial_schema += 1
        tally.problems.append(f"revision {rev} with {len(tables)} tables")
    tally.outcomes["no schema" if rev is None else ("newest revision" if rev == head else f"revision {rev}")] += 1
    try:
        engine = open_store(url)
        engine.dispose()
    except StoreError as exc:
        tally.failed_to_open += 1
        tally.problems.append(_first_line(exc))
        return
    if store_state(url)[0] != head:
        tally.failed_to_open += 1
        tally.problems.append("opened but not at the newest revision")


def check_import(url: str, rows: dict[str, int], tally: Tally) -> None:
    try:
        engine = open_store(url)
    except StoreError as exc:
        tally.failed_to_open += 1
        tally.problems.append(_first_line(exc))
        return
    try:
        with engine.connect() as conn:
            counts = count_rows(conn)
            runs = conn.execute(select(schema.import_run.c.rows)).scalars().all()
            if engine.dialect.name == "sqlite":
                verdict = conn.execute(text("PRAGMA integrity_check")).scalars().all()
                if verdict != ["ok"]:
                    tally.corrupt += 1
                    tally.problems.append(f"integrity_check: {verdict[:3]}")
    finally:
        engine.dispose()
    data = {schema.TABLE_NAMES[name]: n for name, n in rows.items()}
    if not runs:
        whole = all(counts[t] == 0 for t in data)
        tally.outcomes["nothing"] += 1
    else:
        whole = len(runs) == 1 and runs[0] == rows and all(counts[t] == n for t, n in data.items())
        tally.outcomes["all of it"] += 1
    if not whole:
        tally.half_written += 1
        tally.problems.append(f"{len(runs)} import runs, counts {dict(sorted(counts.items()))}")


class SqliteStores:
    """Stores as SQLite files in a scratch folder."""

    label = "SQLite"

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "trial.db"
        self.url = f"sqlite:///{self.path}"
        self.template = workdir / "migrated.db"
        engine = open_store(f"sqlite:///{self.template}")
        engine.dispose()  # the last connection closed: the WAL is checked back into the file

    def empty(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def migrated(self) -> None:
        self.empty()
        shutil.copyfile(self.template, self.path)

    def close(self) -> None:
        self.empty()


class PostgresStores:
    """Stores in a scratch PostgreSQL database: the schema dropped (first open) or the data tables emptied."""

    label = "PostgreSQL"

    def __init__(self, admin_url: str, name: str) -> None:
        self.admin = _quiet_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        self.name = name
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.url = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}").url.render_as_string(hide_password=False)
        self.db = _quiet_engine(self.url).execution_options(isolation_level="AUTOCOMMIT")
        self._has_schema = False

    def _end_others(self) -> None:
        # A killed client's backend goes when the server notices; end any that has not yet, so the reset is not held up.
        with self.db.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

    def empty(self) -> None:
        self._end_others()
        with self.db.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        self._has_schema = False

    def migrated(self) -> None:
        if not self._has_schema:
            self.empty()
            open_store(self.url).dispose()
            self._has_schema = True
            return
        self._end_others()
        names = ", ".join([*(t.name for t in schema.TABLES.values()), "ssda903_child", "import_run"])
        with self.db.connect() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))

    def close(self) -> None:
        self.db.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run_moment(
    stores: SqliteStores | PostgresStores,
    moment: str,
    trials: int,
    rng: random.Random,
    *,
    folder: Path,
    report: ValidationReport,
    rows: dict[str, int],
    expected: dict[str | None, set[str]],
    head: str,
) -> Tally:
    tally = Tally()
    url = stores.url
    if moment == "first open":
        reset = stores.empty

        def op() -> None:
            open_store(url)

    else:
        reset = stores.migrated

        def op() -> None:
            import_folder(make_engine(url), folder, validated=report)

    tally.timing = timing = measure(op, reset)
    start = time.perf_counter()
    for _ in range(trials):
        reset()
        if rng.random() < COMMIT_SHARE:
            aim = Aim(timing.writes + 1, rng.uniform(0, timing.commit))
        else:
            aim = Aim(rng.randint(1, timing.writes), rng.uniform(0, timing.gap))
        landed = fork_and_kill(op, aim, timing.writes)
        tally.trials += 1
        tally.landed[landed] += 1
        if moment == "first open":
            check_first_open(url, expected, head, tally)
        else:
            check_import(url, rows, tally)
    tally.seconds = time.perf_counter() - start
    return tally


def main() -> None:
    """Run the trials and print the figures against the targets."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200, help="trials per store and moment (default 200)")
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the kill delays")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="admin URL of a PostgreSQL server (a scratch database is created and dropped); '' to skip",
    )
    ap.add_argument("--pg-name", default="pm_bench_store_kill", help="name of the scratch PostgreSQL database")
    ap.add_argument("--moments", nargs="+", choices=MOMENTS, default=list(MOMENTS), help="what to kill (default both)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    all_tallies: list[tuple[str, str, Tally]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        folder = workdir / "la"
        generate(folder, las=1, seed=SEED)
        report = validate_folder(folder)
        rows = {name: len(frame) for name, frame in report.tables.items()}
        expected, head = tables_by_revision(workdir)
        backends: list[SqliteStores | PostgresStores] = [SqliteStores(workdir)]
        if args.postgres:
            try:
                backends.append(PostgresStores(args.postgres, args.pg_name))
            except Exception as exc:
                print(f"PostgreSQL not reachable ({_first_line(exc)}): SQLite only")
        print(
            f"Store kill benchmark: kill -9 at a random moment, {args.trials} trials per store and moment, "
            f"{os.cpu_count()} cores; one generated LA (seed {SEED}, {sum(rows.values()):,} rows), "
            f"migrations up to {head}"
        )
        for stores in backends:
            try:
                for moment in args.moments:
                    tally = run_moment(
                        stores, moment, args.trials, rng, folder=folder, report=report, rows=rows, expected=expected,
                        head=head,
                    )  # fmt: skip
                    all_tallies.append((stores.label, moment, tally))
                    print(f"  {stores.label} {moment}: done in {tally.seconds:.1f} s", flush=True)
            finally:
                stores.close()
    print(
        f"\n{'store':11s} {'moment':10s} {'op s':>5s} {'writes':>6s} {'trials':>6s} {'in writes':>9s} {'in commit':>9s} "
        f"{'failed to open':>14s} {'partial schema':>14s} {'half-written':>12s} {'corrupt':>7s} {'seconds':>7s}"
    )
    for label, moment, t in all_tallies:
        schema_cell = str(t.partial_schema) if moment == "first open" else "-"
        half_cell = str(t.half_written) if moment == "import" else "-"
        corrupt_cell = str(t.corrupt) if label == "SQLite" else "-"
        assert t.timing is not None
        print(
            f"{label:11s} {moment:10s} {t.timing.total:5.2f} {t.timing.writes:6d} {t.trials:6d} {t.landed['while writing']:9d} "
            f"{t.landed['during the commit']:9d} {t.failed_to_open:14d} {schema_cell:>14s} {half_cell:>12s} "
            f"{corrupt_cell:>7s} {t.seconds:7.1f}"
        )
        landed = ", ".join(f"{k} {v}" for k, v in sorted(t.landed.items()))
        after = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items()))
        print(f"  {'kills landed':12s} {landed}\n  {'store after':12s} {after}")
        for problem, n in Counter(t.problems).most_common(3):
            print(f"  e.g. {n}x {problem}")
    failed = sum(
        t.failed_to_open + t.partial_schema + t.half_written + t.corrupt + t.landed["failed"] for _, _, t in all_tallies
    )
    trials = sum(t.trials for _, _, t in all_tallies)
    print(
        f"target: 0 stores that fail to open, 0 half-written imports, 0 partial schemas in {trials} trials: "
        f"{'met' if failed == 0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
