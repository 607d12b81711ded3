"""Reading an SSDA903 return: CSV files (any names; each table recognised by its columns) and the XML form.

Tables read: Header, Episodes, UASC, OC2, Missing, and a postcode-sector lookup (``sector``,
``easting``, ``northing``). Other 903 tables (Reviews, OC3, AD1, PlacedAdoption, PrevPerm,
SWEpisodes) are recognised and skipped; every file skipped is named with why. Column names are
read whatever their case; rows of empty cells (as spreadsheets leave them) are dropped. The
encoding is detected: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark,
else Windows-1252 (what spreadsheets on Windows write); a file in none of them is a problem listed
first. Every cell is kept as text here; the conversion checks it.

The XML form follows the DfE layout: ``<EXPSSDA903><CHILD><HEADER>`` with ``CHILDID``, ``SEX``,
``DOB``, ``ETHNIC``, ``UPN``, ``MOTHER``, ``MC_DOB``, ``UASC`` (1 when the child is or was an
unaccompanied asylum-seeking child) and ``DUC``, ``OC2`` and ``AMISSING`` (``MISSING``,
``MIS_START``, ``MIS_END``); then the child's ``EPISODE`` elements (placement code in ``PL``).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd

from matching.contract.validate import Problem

SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("episodes", frozenset({"CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE"})),
    ("oc2", frozenset({"CHILD", "SDQ_SCORE"})),
    ("missing", frozenset({"CHILD", "MISSING", "MIS_START"})),
    ("header", frozenset({"CHILD", "SEX", "DOB", "ETHNIC"})),
    ("uasc", frozenset({"CHILD", "DUC"})),
    ("postcodes", frozenset({"SECTOR", "EASTING", "NORTHING"})),
)
#: Columns each table must have (a missing one is a problem, never a default).
REQUIRED: dict[str, tuple[str, ...]] = {
    "header": ("CHILD", "SEX", "DOB", "ETHNIC"),
    "episodes": (
        "CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE",
    ),
    "oc2": ("CHILD", "SDQ_SCORE"),
    "missing": ("CHILD", "MISSING", "MIS_START", "MIS_END"),
    "uasc": ("CHILD", "DUC"),
    "postcodes": ("SECTOR", "EASTING", "NORTHING"),
}  # fmt: skip
#: Other 903 tables: recognised, not used by this service.
OTHER_TABLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("Reviews", frozenset({"CHILD", "REVIEW", "REVIEW_CODE"})),
    ("OC3", frozenset({"CHILD", "IN_TOUCH", "ACTIV", "ACCOM"})),
    ("AD1", frozenset({"CHILD", "DATE_INT", "DATE_MATCH"})),
    ("PlacedAdoption", frozenset({"CHILD", "DATE_PLACED"})),
    ("PrevPerm", frozenset({"CHILD", "PREV_PERM"})),
    ("SWEpisodes", frozenset({"CHILD", "SW_ID"})),
)
TABLE_NAMES = {
    "header": "Header",
    "episodes": "Episodes",
    "oc2": "OC2",
    "missing": "Missing",
    "uasc": "UASC",
    "postcodes": "postcode lookup",
}
_XML_ELEMENT = {"header": "HEADER", "episodes": "EPISODE", "oc2": "HEADER/OC2", "missing": "HEADER/AMISSING",
                "uasc": "HEADER with UASC"}  # fmt: skip
READABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xml")
MAX_BYTES = 512 * 1024 * 1024


@dataclass
class Return903:
    """The tables found, where each came from, what was skipped and why, and what could not be read."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: Tables whose file could not be read at all (their rows' children are unknown, not wrong).
    unreadable: dict[str, Problem] = field(default_factory=dict)

    @property
    def ignored(self) -> list[str]:
        """Names of the files skipped."""
        return [name for name, _ in self.skipped]


@lru_cache(maxsize=65_536)
def parse_date(text: str) -> date | None:
    """``dd/mm/YYYY`` or ISO ``YYYY-MM-DD``; None when it is neither."""
    text = text.strip()
    try:  # the usual forms, without strptime's cost
        if len(text) == 10 and text[2] == "/" and text[5] == "/" and text.replace("/", "").isdigit():
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.replace("-", "").isdigit():
            return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def detect(columns: set[str]) -> str | None:
    """Which 903 table a set of column names is (None: not one we read)."""
    upper = {c.upper() for c in columns}
    for name, needed in SIGNATURES:
        if needed <= upper:
            return name
    return None


def read_folder(folder: Path) -> Return903:
    """Every CSV (``.csv``, ``.txt``, ``.tsv``) and XML file in ``folder`` (not recursive)."""
    out = Return903()
    if not folder.is_dir():
        out.problems.append(Problem(str(folder), None, None, None, "a folder of SSDA903 CSV or XML files", "no_folder"))
        return out
    for path in sorted(folder.iterdir()):
        if path.is_dir() or path.name.startswith("."):
            continue
        suffix = path.suffix.lower()
        if suffix not in READABLE_SUFFIXES:
            out.skipped.append((path.name, f"not a CSV or XML file ({path.suffix or 'no extension'})"))
            continue
        if path.stat().st_size > MAX_BYTES:
            out.problems.append(Problem(path.name, None, None, None, f"a file under {MAX_BYTES >> 20} MiB", "too_big"))
            continue
        if suffix == ".xml":
            _read_xml(path, out)
        else:
            _read_csv(path, out)
    for name in ("header", "episodes"):
        if name not in out.tables and name not in out.unreadable:
            cols = ", ".join(REQUIRED[name])
            out.problems.append(
                Problem(
                    folder.name,
                    None,
                    None,
                    None,
                    f"{'an' if TABLE_NAMES[name][0] in 'AEIOU' else 'a'} {TABLE_NAMES[name]} table ({cols})",
                    "missing_table",
                )
            )
    return out


def decode(raw: bytes) -> tuple[str | None, str]:
    """The text of a file and the encoding it was read in (None and the reason when none fits)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            return None, f"UTF-16 text (undecodable bytes at offset {exc.start})"
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as exc:
        first = exc.start
    try:
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return None, f"UTF-8 or Windows-1252 text (byte 0x{raw[first]:02X} at offset {first} is neither)"


def _add(out: Return903, name: str, frame: pd.DataFrame, source: str) -> None:
    if "_row" not in frame:
        frame = frame.assign(_file=source, _row=range(2, len(frame) + 2))
    if name in out.tables:
        out.tables[name] = pd.concat([out.tables[name], frame], ignore_index=True).fillna("")
        out.sources[name] += f", {source}"
    else:
        out.tables[name] = frame
        out.sources[name] = source


def _unreadable(out: Return903, path: Path, expected: str, code: str, table: str | None) -> None:
    problem = Problem(path.name, None, None, None, expected, code)
    out.problems.append(problem)
    if table is not None:
        out.unreadable[table] = problem


def _guess_table(raw: bytes) -> str | None:
    """The table a file probably holds, from its first line read as Latin-1 (for unreadable files)."""
    first = raw.split(b"\n", 1)[0].decode("latin-1")
    return detect({c.strip().strip('"').strip("\ufeff") for c in first.replace(";", ",").split(",")})


def _read_csv(path: Path, out: Return903) -> None:
    raw = path.read_bytes()
    text, encoding = decode(raw)
    if text is None:
        _unreadable(out, path, encoding, "encoding", _guess_table(raw))
        return
    if "\x00" in text:
        _unreadable(out, path, "a CSV text file (this looks like a binary file)", "unreadable", None)
        return
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False, sep=sep)
    except pd.errors.EmptyDataError:
        out.skipped.append((path.name, "empty"))
        return
    except (pd.errors.ParserError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        _unreadable(out, path, f"well-formed CSV ({msg})", "unreadable", _guess_table(raw))
        return
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    name = detect(set(frame.columns))
    if name is None:
        other = next((label for label, cols in OTHER_TABLES if cols <= set(frame.columns)), None)
        if other is not None:
            out.skipped.append((path.name, f"an SSDA903 {other} table, not used by this service"))
        else:
            shown = ", ".join(list(frame.columns)[:8])
            out.skipped.append((path.name, f"no SSDA903 table this service reads recognised in its columns ({shown})"))
        return
    if encoding == "Windows-1252":
        out.warnings.append(
            Problem(
                path.name, None, None, None, "UTF-8 text (read as Windows-1252, as spreadsheets write it)", "encoding"
            )
        )
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    for col in dupes:
        out.problems.append(Problem(path.name, 1, col, col, "each column named once in the header", "duplicate_column"))
    if dupes:
        out.unreadable[name] = out.problems[-1]
        return
    for col in frame.columns:
        frame[col] = frame[col].astype(str).str.strip()
    rows = pd.Series(range(2, len(frame) + 2), index=frame.index)
    keep = (frame != "").any(axis=1)
    frame = frame[keep].assign(_file=path.name, _row=rows[keep])
    missing = [c for c in REQUIRED[name] if c not in frame.columns]
    for col in missing:
        out.problems.append(
            Problem(path.name, 1, col, None, f"a column {col} in the {TABLE_NAMES[name]} table", "missing_column")
        )
    for col in missing:
        frame[col] = ""
    _add(out, name, frame.reset_index(drop=True), path.name)


def _text(el: ET.Element | None) -> str:
    return "" if el is None or el.text is None else el.text.strip()


def _fields(el: ET.Element) -> dict[str, str]:
    return {c.tag.upper(): _text(c) for c in el if len(c) == 0}


def _read_xml(path: Path, out: Return903) -> None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        _unreadable(out, path, f"well-formed XML ({exc})", "unreadable", None)
        return
    if root.tag != "EXPSSDA903":
        out.skipped.append((path.name, f"XML whose root is <{root.tag}>, not an SSDA903 return (<EXPSSDA903>)"))
        return
    rows: dict[str, list[dict[str, str]]] = {"header": [], "episodes": [], "oc2": [], "missing": [], "uasc": []}
    source = f"{path.name} (CHILD element)"
    for n, child in enumerate(root.findall("CHILD"), start=1):
        where = {"_file": source, "_row": str(n)}
        head = child.find("HEADER")
        head_fields = _fields(head) if head is not None else {}
        cid = head_fields.get("CHILDID", "")
        if head is not None:
            rows["header"].append({"CHILD": cid, **{k: head_fields.get(k, "") for k in (
                "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")}, **where})  # fmt: skip
            if head_fields.get("UASC", "") not in ("", "0"):
                rows["uasc"].append(
                    {"CHILD": cid, "SEX": head_fields.get("SEX", ""), "DOB": head_fields.get("DOB", ""),
                     "DUC": head_fields.get("DUC", ""), "UASC": head_fields["UASC"], **where}
                )  # fmt: skip
            oc2 = head.find("OC2")
            if oc2 is not None:
                rows["oc2"].append({"CHILD": cid, "DOB": head_fields.get("DOB", ""), **_fields(oc2), **where})
            for ms in head.findall("AMISSING"):
                rows["missing"].append({"CHILD": cid, "DOB": head_fields.get("DOB", ""), **_fields(ms), **where})
        for ep in child.findall("EPISODE"):
            fields = _fields(ep)
            if "PL" in fields and "PLACE" not in fields:
                fields["PLACE"] = fields.pop("PL")
            rows["episodes"].append({"CHILD": cid, **fields, **where})
    for name, found in rows.items():
        if not found:
            continue
        frame = pd.DataFrame(found).fillna("")
        frame["_row"] = frame["_row"].astype(int)
        missing = [c for c in REQUIRED[name] if c not in frame.columns]
        for col in missing:
            tag = "PL" if col == "PLACE" else col
            out.problems.append(
                Problem(source, None, col, None, f"a {tag} element in every {_XML_ELEMENT[name]}", "missing_column")
            )
            frame[col] = ""
        _add(out, name, frame, path.name)
