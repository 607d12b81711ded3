"""The README's examples reproduce on the data `make run` builds (issue 18, item 13): every ``$ matching ...``
transcript is run again and its figures compared (timings aside).  Before, the README's ranking was for a child
who was no longer waiting, so readers got a default referral and 12 eligible households, not the 4 shown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "scripts" / "readme_examples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_every_example_in_the_readme_prints_what_the_readme_says(tmp_path: Path) -> None:
    script = _script()
    text = script.README.read_text(encoding="utf-8")
    found = script.examples(text)
    assert {e.command.split()[1] for e in found} >= {"validate", "match", "allocate"}
    env = script.build_store(tmp_path)
    assert script.differences(text, env) == []


def test_a_changed_figure_is_found() -> None:
    script = _script()
    said = "Allocation of 33 waiting children: 23 placed, took 0.4 s"
    assert script.figures(said) == ["33", "23"]
    assert script.figures(said.replace("23", "24")) != script.figures(said)
