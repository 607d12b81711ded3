"""Subject access: one child's records and the audit entries that touched them, as JSON and CSVs in a zip."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import Engine, func, select

from matching.access import Actor
from matching.audit import AuditEntry, append, entries_for_child, verify
from matching.audit.subject_access import CHILD_TABLES, export_child
from matching.domain import Scope
from matching.store import schema as s
from matching.store.importer import import_folder

DPO = Actor.system("cli:dpo")


def _busiest_child(engine: Engine) -> str:
    """A child living in a household here, with the most placement, progress and missing-episode records."""
    with engine.connect() as conn:
        counts: dict[str, int] = {}
        for table in (s.placement, s.progress_record, s.missing_episode, s.referral, s.sdq_score):
            for child_id, n in conn.execute(select(table.c.child_id, func.count()).group_by(table.c.child_id)):
                counts[child_id] = counts.get(child_id, 0) + n
        housed = set(conn.execute(select(s.child.c.child_id).where(s.child.c.household_id.is_not(None))).scalars())
    return max(sorted(housed), key=lambda c: counts.get(c, 0))


def test_the_archive_holds_everything_about_one_child_and_no_one_else(
    engine: Engine, small_folder: Path, tmp_path: Path
) -> None:
    import_folder(engine, small_folder)
    child_id = _busiest_child(engine)
    with engine.begin() as conn:
        append(conn, AuditEntry(Actor(3, "alice", "placement_officer"), "GET /matches", "200", child_ids=[child_id]))
        append(conn, AuditEntry(Actor(3, "alice", "placement_officer"), "GET /children", "200", child_ids=["other"]))
        append(
            conn, AuditEntry(Actor(3, "alice", "placement_officer"), "GET /list", "200", child_ids=[child_id, "Z-1"])
        )
    out = tmp_path / "sar" / f"{child_id}.zip"
    with engine.begin() as conn:
        summary = export_child(conn, child_id, out, actor=DPO)
    assert summary is not None
    assert summary.path == out
    assert summary.audit_entries == 2
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        document = json.loads(archive.read("child.json"))
        csvs = {n: list(csv.DictReader(io.StringIO(archive.read(n).decode()))) for n in names if n.endswith(".csv")}
        readme = archive.read("README.txt").decode()
    assert {f"csv/{t.name}.csv" for t, _ in CHILD_TABLES} | {"csv/household_membership.csv", "csv/audit.csv"} <= names
    with engine.connect() as conn:
        for table, column in CHILD_TABLES:
            expected = conn.execute(select(func.count()).where(table.c[column] == child_id)).scalar_one()
            assert len(document["records"][table.name]) == expected == summary.rows[table.name], table.name
            assert len(csvs[f"csv/{table.name}.csv"]) == expected
            assert all(r[column] == child_id for r in csvs[f"csv/{table.name}.csv"])
        home = conn.execute(select(s.child.c.household_id).where(s.child.c.child_id == child_id)).scalar_one()
    assert summary.rows["placement"] > 0
    assert document["records"]["child"][0]["child_id"] == child_id
    assert document["records"]["household_membership"] == [
        {**document["records"]["household_membership"][0], "household_id": home, "current": True}
    ]
    assert set(csvs["csv/household_membership.csv"][0]) == {"household_id", "agency_code", "la_code", "current"}
    assert [e["action"] for e in document["audit"]] == ["GET /matches", "GET /list"]
    # Other children an entry touched are other people's data: counted, never named.
    assert [(e["child_ids"], e["other_children"]) for e in document["audit"]] == [([child_id], 0), ([child_id], 1)]
    assert "Z-1" not in json.dumps(document) + str(csvs)
    assert csvs["csv/audit.csv"][0]["username"] == "alice"
    assert f"child {child_id}" in readme
    with engine.connect() as conn:
        trail = entries_for_child(conn, child_id)
        assert verify(conn) is None
    assert [(e.action, e.username, e.outcome) for e in trail][-1] == ("child.export", "cli:dpo", "ok")
    assert trail[-1].purpose == "subject access request (UK GDPR Article 15)"


def test_an_unknown_or_out_of_scope_child_is_not_found_and_the_attempt_audited(
    engine: Engine, small_folder: Path, tmp_path: Path
) -> None:
    import_folder(engine, small_folder)
    child_id = _busiest_child(engine)
    nobody = Scope(la_codes=frozenset(), agency_codes=frozenset())
    for cid, scope in (("no-such-child", None), (child_id, nobody)):
        with engine.begin() as conn:
            assert export_child(conn, cid, tmp_path / "x.zip", actor=DPO, scope=scope) is None
        with engine.connect() as conn:
            assert [(e.action, e.outcome) for e in entries_for_child(conn, cid)] == [("child.export", "not_found")]
    assert not (tmp_path / "x.zip").exists()
