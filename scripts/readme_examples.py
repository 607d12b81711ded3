"""The README's example transcripts, reproduced on the data `make run` builds.

Every ```text block of the README that starts with ``$ matching ...`` is an example: this script builds the
bundled authority as ``make run`` does (``matching generate --las 1 --seed 2024``, ``matching import``,
``matching models trust models``) in a temporary folder, runs each example's command there, and either
checks that the README's transcript says what the command says now (every figure, in order; timings aside)
or, with ``--write``, puts the fresh transcripts into the README.

Run: ``.venv/bin/python scripts/readme_examples.py [--write]``; ``tests/test_readme_examples.py`` runs the check.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COLUMNS = "120"
BLOCK = re.compile(r"```text\n\$ (matching [^\n]*)\n(.*?)```", re.S)
#: Figures that change from run to run: seconds taken.
TIMING = re.compile(r"\d+(?:\.\d+)? s\b")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?%?")


@dataclass(frozen=True)
class Example:
    """One transcript of the README: the command and what it printed."""

    command: str
    output: str
    start: int
    end: int


def examples(text: str) -> list[Example]:
    """The README's example transcripts, in order."""
    return [Example(m.group(1), m.group(2), m.start(2), m.end(2)) for m in BLOCK.finditer(text)]


def figures(text: str) -> list[str]:
    """The figures of a transcript, in order, timings left out."""
    return NUMBER.findall(TIMING.sub("", text))


def build_store(folder: Path) -> dict[str, str]:
    """The bundled authority as `make run` builds it, in ``folder`` (where the examples run), and ``bad/``: a copy
    of its data with the two mistakes the validation example shows.  The environment to run commands in."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'store.db'}", "COLUMNS": COLUMNS, "NO_COLOR": "1"}
    env["PM_EXAMPLES_DIR"] = str(folder)
    env["MATCHING_MODELS_DIR"] = str(ROOT / "models")  # the bundled models, whatever the caller's environment
    data = folder / "data"
    for args in (
        ["generate", "--out", str(data), "--las", "1", "--seed", "2024"],
        ["import", str(data)],
        ["models", "trust", str(ROOT / "models")],
    ):
        run(args, env, check=True)
    bad = folder / "bad"
    shutil.copytree(data, bad)
    _set(bad / "children.csv", row=2, column="sex", value="Z")
    _set(bad / "households.csv", row=5, column="approved_places", value="two")
    return env


def _set(path: Path, *, row: int, column: str, value: str) -> None:
    """Write ``value`` into ``column`` of data row ``row`` (the header is row 1) of a CSV file."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def run(args: list[str], env: dict[str, str], *, check: bool = False) -> str:
    """What ``matching ARGS`` prints (standard output, then standard error), run in the examples' folder."""
    done = subprocess.run(
        [sys.executable, "-m", "matching.cli", *args],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])},
        cwd=env["PM_EXAMPLES_DIR"],
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"matching {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout + done.stderr


def differences(text: str, env: dict[str, str]) -> list[str]:
    """Each example whose figures differ from what its command prints now (empty when all agree)."""
    out = []
    for ex in examples(text):
        now = run(shlex.split(ex.command)[1:], env)
        said, says = figures(ex.output), figures(now)
        if said != says:
            first = next(
                (i for i, (a, b) in enumerate(zip(said, says, strict=False)) if a != b), min(len(said), len(says))
            )
            out.append(
                f"`{ex.command}`: the README says {said[first : first + 5]} where the command prints "
                f"{says[first : first + 5]} (figure {first + 1} of {len(says)})"
            )
    return out


def rewrite(text: str, env: dict[str, str]) -> str:
    """The README with every example's transcript as its command prints it now."""
    for ex in reversed(examples(text)):
        text = text[: ex.start] + run(shlex.split(ex.command)[1:], env) + text[ex.end :]
    return text


def main() -> None:
    """Check the README's examples, or rewrite them with --write."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="put the fresh transcripts into the README")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pm-readme-") as tmp:
        env = build_store(Path(tmp))
        text = README.read_text(encoding="utf-8")
        if args.write:
            README.write_text(rewrite(text, env), encoding="utf-8")
            print(f"rewrote {len(examples(text))} examples in {README.name}")
            return
        problems = differences(text, env)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
