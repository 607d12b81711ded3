"""Reading an SSDA903 return: CSV files (any names; each table recognised by its columns) and the XML form.

Tables read: Header, Episodes, UASC, OC2, Missing, and a postcode-sector lookup (``sector``,
``easting``, ``northing``). Other 903 tables (Reviews, OC3, AD1, PlacedAdoption, PrevPerm,
SWEpisodes) are accepted and ignored. Every cell is kept as text here; the conversion checks it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from matching.contract.validate import Problem

SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("episodes", frozenset({"CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE"})),
    ("oc2", frozenset({"CHILD", "SDQ_SCORE"})),
    ("missing", frozenset({"CHILD", "MISSING", "MIS_START"})),
    ("header", frozenset({"CHILD", "SEX", "DOB", "ETHNIC"})),
    ("uasc", frozenset({"CHILD", "DUC"})),
    ("postcodes", frozenset({"sector", "easting", "northing"})),
)
MAX_BYTES = 512 * 1024 * 1024


@dataclass
class Return903:
    """The tables found, where each came from, and what could not be read."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def parse_date(text: str) -> date | None:
    """``dd/mm/YYYY`` or ISO ``YYYY-MM-DD``; None when it is neither."""
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def detect(columns: set[str]) -> str | None:
    """Which 903 table a set of column names is (None: not one we read)."""
    for name, needed in SIGNATURES:
        if needed <= columns:
            return name
    return None


def read_folder(folder: Path) -> Return903:
    """Every CSV and XML file in ``folder`` (not recursive), tables recognised by their columns."""
    out = Return903()
    if not folder.is_dir():
        out.problems.append(Problem(str(folder), None, None, None, "a folder of SSDA903 CSV or XML files", "missing"))
        return out
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xml"):
            continue
        if path.stat().st_size > MAX_BYTES:
            out.problems.append(Problem(path.name, None, None, None, f"a file under {MAX_BYTES >> 20} MiB", "too_big"))
            continue
        if suffix == ".xml":
            _read_xml(path, out)
        else:
            _read_csv(path, out)
    if "header" not in out.tables:
        out.problems.append(
            Problem(folder.name, None, None, None, "a Header table (CHILD, SEX, DOB, ETHNIC)", "missing")
        )
    if "episodes" not in out.tables:
        out.problems.append(
            Problem(folder.name, None, None, None, "an Episodes table (CHILD, DECOM, RNE, LS, CIN, PLACE)", "missing")
        )
    return out


def _add(out: Return903, name: str, frame: pd.DataFrame, source: str) -> None:
    frame = frame.assign(_file=source, _row=range(2, len(frame) + 2)) if "_row" not in frame else frame
    if name in out.tables:
        out.tables[name] = pd.concat([out.tables[name], frame], ignore_index=True)
        out.sources[name] += f", {source}"
    else:
        out.tables[name] = frame
        out.sources[name] = source


def _read_csv(path: Path, out: Return903) -> None:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        out.problems.append(Problem(path.name, None, None, None, f"a readable UTF-8 CSV file ({exc})", "unreadable"))
        return
    frame.columns = [str(c).strip() for c in frame.columns]
    name = detect(set(frame.columns))
    if name is None:
        out.ignored.append(path.name)
        return
    _add(out, name, frame.map(lambda v: v.strip() if isinstance(v, str) else v), path.name)


def _text(el: ET.Element | None) -> str:
    return "" if el is None or el.text is None else el.text.strip()


def _read_xml(path: Path, out: Return903) -> None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        out.problems.append(Problem(path.name, None, None, None, f"well-formed XML ({exc})", "unreadable"))
        return
    if root.tag != "EXPSSDA903":
        out.ignored.append(path.name)
        return
    rows: dict[str, list[dict[str, str]]] = {"header": [], "episodes": [], "oc2": [], "missing": []}
    for n, child in enumerate(root.findall("CHILD"), start=1):
        head = child.find("HEADER")
        cid = _text(head.find("CHILDID") if head is not None else None)
        if head is not None:
            rows["header"].append(
                {
                    "CHILD": cid,
                    **{k: _text(head.find(k)) for k in ("SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")},
                    "_row": str(n),
                }
            )
            oc2 = head.find("OC2")
            if oc2 is not None:
                rows["oc2"].append(
                    {
                        "CHILD": cid,
                        "SDQ_SCORE": _text(oc2.find("SDQ_SCORE")),
                        "SDQ_REASON": _text(oc2.find("SDQ_REASON")),
                        "_row": str(n),
                    }
                )
        for ep in child.findall("EPISODE"):
            fields = {c.tag: _text(c) for c in ep}
            if "PL" in fields and "PLACE" not in fields:
                fields["PLACE"] = fields.pop("PL")
            rows["episodes"].append({"CHILD": cid, **fields, "_row": str(n)})
        for ms in child.findall("MISSING"):
            rows["missing"].append({"CHILD": cid, **{c.tag: _text(c) for c in ms}, "_row": str(n)})
    for name, found in rows.items():
        if found:
            frame = pd.DataFrame(found).fillna("")
            frame["_file"] = f"{path.name} (CHILD element)"
            frame["_row"] = frame["_row"].astype(int)
            _add(out, name, frame, path.name)
