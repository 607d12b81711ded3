"""The whole list of an SSDA903 import's problems and warnings as CSV (``import-903 --report FILE``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from matching.contract.validate import Problem

COLUMNS = ("severity", "file", "row", "child", "column", "value", "expected", "code", "caused_by")


def write_report(path: Path, problems: Iterable[Problem], warnings: Iterable[Problem]) -> int:
    """Write one row per problem (then per warning); return the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for severity, items in (("error", problems), ("warning", warnings)):
            for p in items:
                out.writerow(
                    (severity, p.file, "" if p.row is None else p.row, p.child or "", p.column or "",
                     "" if p.value is None else p.value, p.expected, p.code, p.cause or "")
                )  # fmt: skip
                n += 1
    return n
