"""Layering and generated documents stay as designed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from matching.contract.docs import render_markdown
from matching.paths import PROJECT_ROOT


def test_library_never_imports_fastapi() -> None:
    code = (
        "import sys, matching, matching.cli, matching.store.queries, matching.store.importer, "
        "matching.synth.generator; print('fastapi' in sys.modules or 'starlette' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_data_format_document_is_up_to_date() -> None:
    doc = Path(PROJECT_ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), "run `matching contract-docs` to regenerate docs/data-format.md"
