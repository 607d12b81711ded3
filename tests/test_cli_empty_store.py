"""An empty store says so and how to fill it (issue 18, item 12), rather than "no child X" or an empty table."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from matching.cli import app


@pytest.mark.parametrize(
    "args",
    [
        ["match", "--child", "L001-C00001"],
        ["waiting"],
        ["allocate", "--la", "L001"],
        ["step-down"],
    ],
)
def test_commands_on_an_empty_store_say_how_to_import(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    res = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 1, res.output
    assert "holds no children yet" in res.output
    assert "matching import DIR" in res.output
    assert "Traceback" not in res.output
