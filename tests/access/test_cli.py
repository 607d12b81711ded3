"""The users, tokens, audit and export-child commands: one readable line on error, exit 1.

Most runs are in-process (typer's runner: a subprocess costs seconds of imports each); the failing audit check
and one refused command run as real processes, to show the exit code and that no traceback escapes."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner, Result

from matching.accounts.tokens import authenticate_token
from matching.cli import app
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder


def run(db: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    environ = {"COLUMNS": "200", "DATABASE_URL": f"sqlite:///{db}", "MATCHING_DEBUG": None, **(env or {})}
    return CliRunner().invoke(app, list(args), input=stdin, env=environ)


def run_process(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "200", "DATABASE_URL": f"sqlite:///{db}"}
    environ.pop("MATCHING_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "matching.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def one_line_error(r: Result | subprocess.CompletedProcess[str], expected: str) -> None:
    code = r.exit_code if isinstance(r, Result) else r.returncode
    assert code == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert expected in r.stderr, r.stderr


def test_accounts_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    add = run(
        db, "users", "add", "Alice", "--role", "placement_officer", "--la", "L001", "--agency", "LA-L001",
        "--display-name", "Alice Example", "--password-stdin", stdin="a long enough password\n",
    )  # fmt: skip
    assert add.exit_code == 0, add.stderr
    assert "added alice (Placement officer)" in add.stdout
    assert "L001 is not in the store yet" in add.stderr  # nothing imported: a warning, not an error
    one_line_error(run(db, "users", "add", "alice", "--role", "auditor", "--no-password"), "already exists")
    one_line_error(run(db, "users", "add", "bob", "--role", "wizard", "--no-password"), "no role 'wizard'")
    one_line_error(
        run(db, "users", "add", "bob", "--role", "auditor", "--password-stdin", stdin="short\n"), "at least 12"
    )
    listed = run(db, "users", "list")
    assert "alice" in listed.stdout
    assert "Alice Example" in listed.stdout
    assert "Placement officer" in listed.stdout

    issued = run(db, "tokens", "issue", "alice", "--name", "nightly", "--days", "7")
    assert issued.exit_code == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("pm_")
    assert "not shown again" in issued.stderr
    one_line_error(run(db, "tokens", "issue", "alice", "--name", "x", "--days", "999"), "1-365 days")
    one_line_error(run(db, "tokens", "issue", "alice", "--name", "x", "--scope", "manage_users"), "cannot grant")
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        assert authenticate_token(conn, token) is not None
    listed = run(db, "tokens", "list", "alice")
    assert "nightly" in listed.stdout
    assert token not in listed.stdout
    assert run(db, "tokens", "revoke", "1").exit_code == 0
    one_line_error(run(db, "tokens", "revoke", "42"), "no token 42")
    with engine.begin() as conn:
        assert authenticate_token(conn, token) is None

    assert run(db, "users", "reset", "alice", "--password-stdin", stdin="another long password\n").exit_code == 0
    assert "disabled alice" in run(db, "users", "disable", "alice").stdout
    one_line_error(run_process(db, "users", "disable", "nobody"), "no user 'nobody'")
    assert "disabled" in run(db, "users", "list").stdout
    engine.dispose()


def test_demo_accounts_and_never_in_production(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    one_line_error(run(db, "users", "demo", env={"MATCHING_ENVIRONMENT": "production"}), "never created in production")
    demo = run(db, "users", "demo")
    assert demo.exit_code == 0, demo.stderr
    assert "demo.placement" in demo.stdout
    assert "password demo-placement-officer" in demo.stdout


def test_audit_verify_show_and_export_child(tmp_path: Path, small_folder: Path) -> None:
    db = tmp_path / "s.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.connect() as conn:
        child_id = conn.execute(text("SELECT child_id FROM child ORDER BY child_id LIMIT 1")).scalar_one()
    out = tmp_path / "sar.zip"
    exported = run(db, "export-child", child_id, "--out", str(out))
    assert exported.exit_code == 0, exported.stderr
    assert zipfile.ZipFile(out).read("child.json")
    one_line_error(
        run(db, "export-child", "no-such-child", "--out", str(tmp_path / "n.zip")), "no child 'no-such-child'"
    )
    shown = run(db, "audit", "show", "--child", child_id, "--purpose", "complaint")
    assert shown.exit_code == 0, shown.stderr
    assert "child.export" in shown.stdout
    assert "subject access" in shown.stdout
    verified = run(db, "audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert "ok: 3 audit entries chained" in verified.stdout
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_entry_no_update"))
        conn.execute(text("UPDATE audit_entry SET purpose = 'curiosity' WHERE seq = 1"))
    engine.dispose()
    one_line_error(
        run_process(db, "audit", "verify"), "the audit trail is broken at audit entry 1: its contents were changed"
    )
