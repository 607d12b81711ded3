"""The batching audit writer: entries keep their order, are all written, and waiting means written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from matching.access import Actor
from matching.audit import AuditEntry, AuditUnavailableError, AuditWriter, flush_every_writer, head, record, verify
from matching.store import schema as s

BOB = Actor(2, "bob", "placement_officer")


def test_queued_entries_are_written_in_order_and_chained(engine: Engine) -> None:
    writer = AuditWriter(engine, max_delay=0.01)
    try:
        for n in range(50):
            writer.submit(AuditEntry(BOB, f"GET /children/C{n}", "200", child_ids=[f"C{n}"]))
        record(engine, AuditEntry(BOB, "direct", "ok"))  # a direct append interleaves safely
        writer.submit(AuditEntry(BOB, "last", "200"), wait=True)
    finally:
        writer.close()
    with engine.connect() as conn:
        actions = conn.execute(select(s.audit_entry.c.action).order_by(s.audit_entry.c.seq)).scalars().all()
        assert verify(conn) is None
        assert head(conn)[0] == 52
    queued = [a for a in actions if a != "direct"]
    assert queued == [*(f"GET /children/C{n}" for n in range(50)), "last"]
    assert writer.written == 51
    assert writer.failures == 0


def test_many_threads_submitting(engine: Engine) -> None:
    writer = AuditWriter(engine, max_delay=0.005)

    def request(w: int) -> None:
        for n in range(25):
            writer.submit(AuditEntry(BOB, f"w{w}", "200", child_ids=[f"C{n}"]))

    threads = [threading.Thread(target=request, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    with engine.connect() as conn:
        assert verify(conn) is None
        assert head(conn)[0] == 100
        for w in range(4):
            seqs = conn.execute(
                select(s.audit_entry.c.seq).where(s.audit_entry.c.action == f"w{w}").order_by(s.audit_entry.c.seq)
            ).scalars()
            assert len(list(seqs)) == 25


def test_a_stopped_writer_refuses_rather_than_drop(engine: Engine) -> None:
    writer = AuditWriter(engine)
    writer.close()
    with pytest.raises(AuditUnavailableError):
        writer.submit(AuditEntry(BOB, "late", "200"))


def test_flushing_every_writer_writes_what_each_queued_before(engine: Engine) -> None:
    """A reader of the whole trail (an audit test's ``last_seq``) must not see an entry queued earlier by another
    app land after it reads.  Two writers hold entries back for a while; flushing them all writes both."""
    first, second = AuditWriter(engine, max_delay=0.3), AuditWriter(engine, max_delay=0.3)
    closed = AuditWriter(engine)
    closed.close()  # a closed writer is skipped, not waited on
    try:
        first.submit(AuditEntry(BOB, "GET /one", "200"))
        second.submit(AuditEntry(BOB, "GET /two", "200"))
        flush_every_writer()
        assert (first.written, second.written) == (1, 1)
        with engine.connect() as conn:
            assert head(conn)[0] == 2
    finally:
        first.close()
        second.close()


def test_whoever_waits_is_not_kept_waiting_for_the_batch_to_fill(engine: Engine) -> None:
    """A flush, or an entry submitted with ``wait``, ends the batch being gathered: with a batch window far longer
    than their timeout, both still return (before, each waited out the window and timed out)."""
    writer = AuditWriter(engine, max_delay=60.0)
    try:
        writer.submit(AuditEntry(BOB, "GET /queued", "200"))
        writer.flush(timeout=5.0)
        writer.submit(AuditEntry(BOB, "POST /waited", "201"), wait=True, timeout=5.0)
        assert writer.written == 2
    finally:
        writer.close(timeout=5.0)


def test_a_writer_that_cannot_write_still_closes_and_leaves_the_registry(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: when writing what was queued failed at close, the writer stayed registered, and every later
    flush of all writers waited on it and failed.  It is now stopped and dropped, and what it held is still written
    once the store is back (retried, never dropped)."""
    from matching.audit import writer as writer_module

    down = {"store": True}
    real = writer_module.append_all

    def append_all(conn, entries):  # type: ignore[no-untyped-def]
        if down["store"]:
            raise RuntimeError("the store is down")
        return real(conn, entries)

    monkeypatch.setattr(writer_module, "append_all", append_all)
    writer = AuditWriter(engine, retry_after=0.05)
    writer.submit(AuditEntry(BOB, "GET /held", "200"))
    with pytest.raises(AuditUnavailableError):
        writer.close(timeout=0.3)
    assert writer not in AuditWriter._open
    flush_every_writer(engine, timeout=1.0)  # passed over, not waited on
    down["store"] = False
    writer._thread.join(5.0)
    assert not writer._thread.is_alive()
    assert writer.written == 1


def test_flushing_the_writers_of_one_store_leaves_the_others(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``flush_every_writer(engine)`` flushes only that store's writers: another store's writer, stuck writing, is
    not waited on (flushing every writer would time out on it)."""
    from sqlalchemy import create_engine

    from matching.audit import writer as writer_module
    from matching.store.schema import metadata

    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    metadata.create_all(other)
    gate = threading.Event()
    real = writer_module.append_all

    def append_all(conn, entries):  # type: ignore[no-untyped-def]
        if conn.engine is other:
            gate.wait(10.0)
        return real(conn, entries)

    monkeypatch.setattr(writer_module, "append_all", append_all)
    stuck, mine = AuditWriter(other), AuditWriter(engine)
    try:
        stuck.submit(AuditEntry(BOB, "GET /elsewhere", "200"))
        mine.submit(AuditEntry(BOB, "GET /mine", "200"))
        flush_every_writer(engine, timeout=1.0)
        assert mine.written == 1
        with pytest.raises(AuditUnavailableError):
            flush_every_writer(timeout=1.0)  # every writer: the stuck one too
    finally:
        gate.set()
        mine.close(timeout=5.0)
        stuck.close(timeout=5.0)
