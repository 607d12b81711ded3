"""What auditing costs per request on SQLite (the embedded store, WAL, synchronous=FULL).

    PYTHONPATH=src python scripts/audit_cost.py [--n 2000] [--dir DIR]

Prints the median and 95th percentile of: an entry queued to the batching writer (what a request pays), an
entry appended in its own transaction (one commit, one fsync), the work of one append inside a transaction (no
commit), a bearer token checked, a session resolved; the writer's throughput; and how fast the whole trail
verifies.  Synthetic actors and ids only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import text

from matching.access import Actor, Remit
from matching.accounts import passwords
from matching.accounts.sessions import create_session, resolve_session
from matching.accounts.tokens import authenticate_token, issue_token
from matching.accounts.users import create_user
from matching.audit import AuditEntry, AuditWriter, append, record, verify
from matching.store.engine import make_engine, upgrade


def timed(n: int, fn: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    q = statistics.quantiles(ms, n=20)
    print(f"{name:<52} median {statistics.median(ms):6.3f} ms   p95 {q[18]:6.3f} ms   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    passwords.HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # set-up only: not measured
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'cost.db'}")
        upgrade(engine)
        alice = Actor(1, "alice", "placement_officer")
        with engine.begin() as conn:
            user = create_user(conn, username="alice", role="placement_officer", remit=Remit.of(["L001"]), actor=alice)
            token = issue_token(conn, "alice", name="bench", actor=alice).token
            session = create_session(conn, user.principal()).session_id

        def entry(i: int) -> AuditEntry:
            return AuditEntry(alice, "GET /children/{child_id}/matches", "200", child_ids=[f"C{i % 500:05d}"])

        writer = AuditWriter(engine)
        queued = timed(args.n, lambda i: writer.submit(entry(i)))
        t = time.perf_counter()
        writer.flush()
        drained = time.perf_counter() - t
        writer.close()
        report("audit entry queued to the writer (per request)", queued)
        print(
            f"{'  writer: all written':<52} {drained * 1000:6.0f} ms after the last was queued ({writer.written} entries)"
        )

        report("audit entry, own transaction (commit + fsync)", timed(args.n // 4, lambda i: record(engine, entry(i))))

        conn = engine.connect()
        with conn.begin():
            report("audit entry appended, no commit (the work itself)", timed(args.n, lambda i: append(conn, entry(i))))

        with conn.begin():
            report("bearer token checked", timed(args.n, lambda _: authenticate_token(conn, token)))
        with conn.begin():
            report("session resolved", timed(args.n, lambda _: resolve_session(conn, session)))
        conn.close()

        with engine.connect() as c:
            entries = c.execute(text("SELECT count(*) FROM audit_entry")).scalar_one()
            t = time.perf_counter()
            assert verify(c) is None
            took = time.perf_counter() - t
        print(f"verify: {entries:,} entries in {took * 1000:.0f} ms ({entries / took:,.0f} entries/s)")
        engine.dispose()


if __name__ == "__main__":
    main()
