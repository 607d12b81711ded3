"""Check a folder of contract files and report every problem at once.

``validate_folder`` reads each file as text, parses every column by its contract type, and
then checks the rules that span rows and files (keys, references, sibling groups, approved
places).  It returns the parsed tables only when there is no error, so an import can never
start from data that failed a check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching import codes
from matching.contract.spec import (
    FILES,
    FUTURE_DATES_ALLOWED,
    KIND_HELP,
    TAXONOMY_COURSES,
    TAXONOMY_NEEDS,
    TAXONOMY_NEEDS_AND_RISKS,
    Column,
    FileSpec,
)
from matching.taxonomy import Taxonomy, load_taxonomy

#: Refuse files larger than this before reading a byte of them (bytes).
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_ID_RE = r"^[A-Za-z0-9_.\-]{1,64}$"
_WORD_RE = re.compile(r"^[a-z_]{1,40}$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where it is, what was found and what was expected."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    code: str = "invalid"
    #: The child the row is about, where the input names one (SSDA903 CHILD).
    child: str | None = None
    #: The problem this one follows from (its text), when it is a knock-on of an earlier one.
    cause: str | None = None

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row is not None else "")
        where += f", CHILD {self.child}" if self.child else ""
        where += f", column {self.column}" if self.column else ""
        found = f": found {self.value!r}" if self.value is not None else ""
        return f"{where}{found}; expected {self.expected}"


@dataclass
class ValidationReport:
    """The outcome of checking a folder: problems, warnings and (when clean) the parsed tables."""

    folder: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.problems


class ContractError(ValueError):
    """Raised when input does not satisfy the data contract; carries the full report."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        n = len(report.problems)
        first = report.problems[0] if report.problems else None
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''} in {report.folder}" + (f"; first: {first}" if first else "")
        )


def validate_folder(
    folder: Path | str,
    *,
    taxonomy: Taxonomy | None = None,
    today: date | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Check every contract file in ``folder``; list every problem; parse the tables if clean."""
    folder = Path(folder)
    taxonomy = taxonomy or load_taxonomy()
    today = today or date.today()
    report = ValidationReport(folder=folder)
    if not folder.is_dir():
        report.problems.append(Problem(str(folder), None, None, None, "a folder of contract CSV files", "no_folder"))
        return report
    parsed: dict[str, pd.DataFrame] = {}
    for spec in FILES:
        if progress:
            progress(spec.name)
        frame = _read_file(folder, spec, report, max_file_bytes)
        if frame is None:
            continue
        parsed[spec.name] = _parse_columns(spec, frame, report, taxonomy, today)
        report.row_counts[spec.name] = len(frame)
    _check_keys(parsed, report)
    _check_references(parsed, report)
    _check_rules(parsed, report)
    report.problems.sort(key=lambda p: (p.file, p.row if p.row is not None else -1, p.column or "", p.code))
    if report.ok:
        report.tables = parsed
    return report


# --- reading -----------------------------------------------------------------------


def _read_file(folder: Path, spec: FileSpec, report: ValidationReport, max_bytes: int) -> pd.DataFrame | None:
    path = folder / spec.filename
    name = spec.filename
    if not path.exists():
        if spec.required_file:
            report.problems.append(
                Problem(name, None, None, None, "this file to be present (it is required)", "missing_file")
            )
        return None
    size = path.stat().st_size
    if size > max_bytes:
        report.problems.append(
            Problem(
                name,
                None,
                None,
                f"{size / 2**20:,.0f} MiB",
                f"a file of at most {max_bytes / 2**20:,.0f} MiB (split it, or raise the limit)",
                "too_large",
            )
        )
        return None
    if size == 0:
        report.problems.append(
            Problem(name, None, None, None, "a header line naming the columns (the file is empty)", "empty_file")
        )
        return None
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head:
        report.problems.append(
            Problem(name, None, None, None, "a UTF-8 CSV text file (this looks like a binary file)", "not_csv")
        )
        return None
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig", skipinitialspace=True
        )
    except UnicodeDecodeError as exc:
        report.problems.append(
            Problem(name, None, None, None, f"UTF-8 text (undecodable byte at offset {exc.start})", "not_csv")
        )
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        row = _line_from_parser_error(msg)
        report.problems.append(Problem(name, row, None, None, f"well-formed CSV ({msg})", "not_csv"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    header_dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    for col in header_dupes:
        report.problems.append(Problem(name, 1, col, col, "each column named once in the header", "duplicate_column"))
    missing = [c for c in spec.required_columns if c not in frame.columns]
    for col in missing:
        report.problems.append(
            Problem(
                name, 1, col, None, f"a column named {col!r} ({spec.column_index[col].description})", "missing_column"
            )
        )
    unknown = [c for c in frame.columns if c not in spec.column_index]
    for col in unknown:
        report.warnings.append(
            Problem(name, 1, col, col, "a column of the contract (this one is ignored)", "unknown_column")
        )
    if len(frame.columns) and not any(c in spec.column_index for c in frame.columns):
        return None
    for col in frame.columns.unique():
        if isinstance(frame[col], pd.Series):
            frame[col] = frame[col].astype(str).str.strip()
    return frame


def _line_from_parser_error(msg: str) -> int | None:
    match = re.search(r"line (\d+)", msg)
    return int(match.group(1)) if match else None


# --- parsing columns ---------------------------------------------------------------


def _allowed_values(column: Column, taxonomy: Taxonomy) -> tuple[str, ...] | None:
    if column.allowed == TAXONOMY_NEEDS:
        return taxonomy.need_ids
    if column.allowed == TAXONOMY_COURSES:
        return taxonomy.course_ids
    if column.allowed == TAXONOMY_NEEDS_AND_RISKS:
        return taxonomy.need_ids + codes.RISKS_TO_CHILD + codes.RISKS_TO_OTHERS
    if isinstance(column.allowed, tuple):
        return column.allowed
    return None


def _describe_allowed(values: tuple[str, ...]) -> str:
    shown = ", ".join(values[:15])
    return f"one of {shown}" + (f" … ({len(values)} codes)" if len(values) > 15 else "")


def _parse_columns(
    spec: FileSpec, frame: pd.DataFrame, report: ValidationReport, taxonomy: Taxonomy, today: date
) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    rows = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    for column in spec.columns:
        if column.name in frame.columns:
            raw = frame[column.name].astype(str)
        else:
            raw = pd.Series([""] * len(frame), index=frame.index, dtype=object)
        blank = raw == ""
        if column.required and column.name in frame.columns and blank.any():
            _add(
                report,
                spec.filename,
                rows[blank],
                column.name,
                raw[blank],
                f"a value ({KIND_HELP[column.kind]})",
                "required",
            )
        if column.default is not None:
            raw = raw.where(~blank, column.default)
            blank = raw == ""
        allowed = _allowed_values(column, taxonomy)
        parsed, bad, expected = _parse_kind(column, raw, blank, allowed, today, spec.name)
        if bad.any():
            _add(report, spec.filename, rows[bad], column.name, raw[bad], expected, "bad_value")
        out[column.name] = parsed
    result = pd.DataFrame(out, index=frame.index)
    result["_row"] = rows
    return result


def _parse_kind(
    column: Column,
    raw: pd.Series,
    blank: pd.Series,
    allowed: tuple[str, ...] | None,
    today: date,
    file: str,
) -> tuple[pd.Series, pd.Series, str]:
    kind = column.kind
    expected = KIND_HELP[kind]
    present = ~blank
    if kind == "id":
        ok = raw.str.match(_ID_RE)
        return raw.where(present, None), present & ~ok, expected
    if kind == "text":
        return raw.where(present, None), pd.Series(False, index=raw.index), expected
    if kind in ("int", "float"):
        nums = pd.to_numeric(raw.where(present, None), errors="coerce")
        bad = present & nums.isna()
        if kind == "int":
            bad |= present & nums.notna() & (nums != np.floor(nums.fillna(0)))
        rng = _range_text(column)
        if column.minimum is not None:
            bad |= nums.notna() & (nums < column.minimum)
        if column.maximum is not None:
            bad |= nums.notna() & (nums > column.maximum)
        unit = f" in {column.unit}" if column.unit else ""
        parsed = nums.where(~bad).astype("Int64" if kind == "int" else "Float64")
        return parsed, bad, f"{expected}{rng}{unit}"
    if kind == "bool":
        low = raw.str.lower()
        is_true = low.isin(_TRUE)
        is_false = low.isin(_FALSE)
        bad = present & ~(is_true | is_false)
        parsed = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        parsed[is_true] = True
        parsed[is_false] = False
        return parsed, bad, expected
    if kind in ("date", "month"):
        if kind == "date":
            when = pd.to_datetime(raw.where(present, None), format="%Y-%m-%d", errors="coerce")
            retry = present & when.isna()
            if retry.any():
                when[retry] = pd.to_datetime(raw[retry], format="%d/%m/%Y", errors="coerce")
        else:
            when = pd.to_datetime(raw.where(present, None), format="%Y-%m", errors="coerce")
        bad = present & when.isna()
        expected_text = expected
        if (file, column.name) not in FUTURE_DATES_ALLOWED:
            future = when.notna() & (when > pd.Timestamp(today))
            if future.any():
                bad |= future
                expected_text = f"{expected} (today is {today.isoformat()})"
        early = when.notna() & (when < pd.Timestamp("1900-01-01"))
        bad |= early
        return when.where(~bad), bad, expected_text
    if kind == "code":
        assert allowed is not None
        bad = present & ~raw.isin(allowed)
        return raw.where(present & ~bad, None), bad, _describe_allowed(allowed)
    # list kinds
    parts = raw.map(lambda v: tuple(p.strip() for p in v.split(";") if p.strip()) if v else ())
    if kind == "codes":
        assert allowed is not None
        allowed_set = set(allowed)
        bad = parts.map(lambda t: any(p not in allowed_set for p in t)).astype(bool)
        return parts.where(~bad, ()), bad, f"codes separated by ';', each {_describe_allowed(allowed)}"
    if kind == "ids":
        bad = parts.map(lambda t: any(re.match(_ID_RE, p) is None for p in t)).astype(bool)
        return parts, bad, expected
    bad = parts.map(lambda t: any(_WORD_RE.match(p) is None for p in t)).astype(bool)
    return parts, bad, expected


def parse_record(
    spec: FileSpec, values: Mapping[str, str], *, taxonomy: Taxonomy, today: date
) -> tuple[dict[str, Any], list[Problem]]:
    """One record of ``spec`` given as the text a contract file would hold (a missing column is blank), parsed by
    the same rule as a file's rows (:func:`validate_folder`): the values as the store keeps them (dates as
    :class:`~datetime.date`, lists as lists, blanks as ``None``) and every problem with its column (row None).
    The record-level rules (keys, references) are the caller's."""
    text = {c.name: str(values.get(c.name, "")).strip() for c in spec.columns}
    # Only the columns given (and the required ones) are parsed; a blank optional column parses the same way
    # every time (its default, or nothing), so it is parsed once per taxonomy and day.
    wanted = replace(spec, columns=tuple(c for c in spec.columns if c.required or text[c.name]))
    frame = pd.DataFrame({c.name: [text[c.name]] for c in wanted.columns}, dtype=object)
    report = ValidationReport(folder=Path(spec.filename))
    parsed = _parse_columns(wanted, frame, report, taxonomy, today)
    blank = _blank_record(spec, taxonomy, today)
    out: dict[str, Any] = {}
    for column in spec.columns:
        if column.name in parsed.columns:
            out[column.name] = _python_value(column, parsed[column.name].iloc[0])
        else:
            value = blank[column.name]
            out[column.name] = list(value) if isinstance(value, list) else value
    problems = [replace(p, row=None) for p in report.problems]
    return out, problems


_BLANKS: dict[tuple[str, date], tuple[Taxonomy, dict[str, Any]]] = {}


def _blank_record(spec: FileSpec, taxonomy: Taxonomy, today: date) -> dict[str, Any]:
    """Each optional column of ``spec`` parsed from a blank (its default, or nothing), kept per taxonomy and day."""
    key = (spec.name, today)
    kept = _BLANKS.get(key)
    found = kept[1] if kept is not None and kept[0] is taxonomy else None
    if found is None:
        optional = replace(spec, columns=tuple(c for c in spec.columns if not c.required))
        frame = pd.DataFrame({c.name: [""] for c in optional.columns}, dtype=object)
        parsed = _parse_columns(optional, frame, ValidationReport(folder=Path(spec.filename)), taxonomy, today)
        found = {c.name: _python_value(c, parsed[c.name].iloc[0]) for c in optional.columns}
        if len(_BLANKS) > 64:
            _BLANKS.clear()
        _BLANKS[key] = (taxonomy, found)
    return found


def _python_value(column: Column, value: Any) -> Any:
    if column.kind in ("codes", "ids", "words"):
        return list(value) if isinstance(value, tuple) else []
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if column.kind in ("date", "month"):
        return value.date() if isinstance(value, pd.Timestamp) else value
    if column.kind == "int":
        return int(value)
    if column.kind == "float":
        return float(value)
    if column.kind == "bool":
        return bool(value)
    return str(value)


def _range_text(column: Column) -> str:
    lo, hi = column.minimum, column.maximum
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" of at least {lo:g}"
    if hi is not None:
        return f" of at most {hi:g}"
    return ""


def _add(
    report: ValidationReport,
    file: str,
    rows: pd.Series,
    column: str | None,
    values: pd.Series | None,
    expected: str,
    code: str,
) -> None:
    vals = values.tolist() if values is not None else [None] * len(rows)
    report.problems.extend(
        Problem(file, int(r), column, None if v is None else str(v), expected, code)
        for r, v in zip(rows.tolist(), vals, strict=True)
    )


# --- rules across rows and files ---------------------------------------------------


def _check_keys(parsed: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    for spec in FILES:
        frame = parsed.get(spec.name)
        if frame is None or frame.empty:
            continue
        key = list(spec.key)
        # An optional key column (an assessment's date) left blank is a value of its own: two blank-dated
        # ratings of the same need are duplicates.  Required key columns left blank are reported elsewhere.
        required = [c for c in key if spec.column_index[c].required]
        keys = frame[key].astype(object).where(frame[key].notna(), "(blank)")
        keys["_row"] = frame["_row"]
        complete = frame[required].notna().all(axis=1)
        dupes = complete & keys.duplicated(subset=key, keep="first")
        if dupes.any():
            first_rows = keys[complete].drop_duplicates(subset=key, keep="first").set_index(key)["_row"]
            for _, row in keys[dupes].iterrows():
                k = tuple(row[c] for c in key)
                value = "/".join(str(v.date() if isinstance(v, pd.Timestamp) else v) for v in k)
                first = first_rows.loc[k if len(k) > 1 else k[0]]
                report.problems.append(
                    Problem(
                        spec.filename,
                        int(row["_row"]),
                        "+".join(key),
                        value,
                        f"a unique {'+'.join(key)} (already used on row {int(first)})",
                        "duplicate_id",
                    )
                )


def _check_references(parsed: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    for spec in FILES:
        frame = parsed.get(spec.name)
        if frame is None:
            continue
        for column in spec.columns:
            if column.references is None:
                continue
            target_file, target_col = column.references
            target = parsed.get(target_file)
            known = set(target[target_col].dropna()) if target is not None else set()
            values = frame[column.name]
            dangling = values.notna() & ~values.isin(known)
            if dangling.any():
                _add(
                    report,
                    spec.filename,
                    frame.loc[dangling, "_row"],
                    column.name,
                    values[dangling],
                    f"a {target_col} listed in {target_file}.csv",
                    "dangling_reference",
                )
    households, children = parsed.get("households"), parsed.get("children")
    if households is not None:
        known_children = set(children["child_id"].dropna()) if children is not None else set()
        for _, row in households[households["connected_child_ids"].map(len) > 0].iterrows():
            for child in row["connected_child_ids"]:
                if child not in known_children:
                    report.problems.append(
                        Problem(
                            "households.csv",
                            int(row["_row"]),
                            "connected_child_ids",
                            child,
                            "a child_id listed in children.csv",
                            "dangling_reference",
                        )
                    )


def _check_rules(parsed: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    children = parsed.get("children")
    households = parsed.get("households")
    if children is not None:
        _check_children(children, report)
    if households is not None:
        _check_households(households, children, parsed.get("household_members"), report)
    placements = parsed.get("placements")
    if placements is not None:
        _check_placements(placements, report)


def _problems_where(
    report: ValidationReport,
    file: str,
    frame: pd.DataFrame,
    mask: pd.Series,
    column: str,
    expected: str,
    code: str,
    value: Callable[[pd.Series], str] | None = None,
) -> None:
    if not mask.any():
        return
    for _, row in frame[mask].iterrows():
        shown = value(row) if value else (None if pd.isna(row[column]) else str(_plain(row[column])))
        report.problems.append(Problem(file, int(row["_row"]), column, shown, expected, code))


def _plain(v: object) -> object:
    return v.date().isoformat() if isinstance(v, pd.Timestamp) else v


def _check_children(children: pd.DataFrame, report: ValidationReport) -> None:
    f = "children.csv"
    born = children["birth_month"]
    _problems_where(
        report,
        f,
        children,
        children["care_started"].notna() & born.notna() & (children["care_started"] < born),
        "care_started",
        "a date on or after the month of birth",
        "inconsistent",
    )
    _problems_where(
        report,
        f,
        children,
        children["placement_start"].notna()
        & children["care_started"].notna()
        & (children["placement_start"] < children["care_started"]),
        "placement_start",
        "a date on or after care_started (the current placement is in this period of care)",
        "inconsistent",
    )
    age_at_start = (children["placement_start"] - born).dt.days / 365.25
    k3_young = (children["place"] == codes.PLACE_SUPPORTED_ACCOMMODATION) & (age_at_start < 16)
    _problems_where(
        report,
        f,
        children,
        k3_young.fillna(False).astype(bool),
        "place",
        "supported accommodation (K3) only for young people aged 16 or 17",
        "law",
    )
    not_foster = (
        children["household_id"].notna() & children["place"].notna() & ~children["place"].isin(codes.PLACE_FOSTER)
    )
    _problems_where(
        report,
        f,
        children,
        not_foster,
        "household_id",
        "a household only for a foster placement (PLACE U1-U6)",
        "inconsistent",
        value=lambda r: f"{r['household_id']} with PLACE {r['place']}",
    )
    half_home = children["home_easting"].isna() != children["home_northing"].isna()
    _problems_where(
        report,
        f,
        children,
        half_home,
        "home_northing",
        "home_easting and home_northing both given or both empty",
        "inconsistent",
    )
    groups = children["sibling_group_id"].dropna()
    sizes = groups.value_counts()
    lonely = children["sibling_group_id"].isin(sizes[sizes < 2].index)
    _problems_where(
        report,
        f,
        children,
        lonely,
        "sibling_group_id",
        "a sibling group shared with at least one other child in children.csv (this group has only this child)",
        "dangling_reference",
    )


def _check_households(
    households: pd.DataFrame, children: pd.DataFrame | None, members: pd.DataFrame | None, report: ValidationReport
) -> None:
    f = "households.csv"
    _problems_where(
        report,
        f,
        households,
        households["approved_age_min"] > households["approved_age_max"],
        "approved_age_max",
        "approved_age_max at least approved_age_min",
        "inconsistent",
        value=lambda r: f"{r['approved_age_min']}-{r['approved_age_max']}",
    )
    pref_bad = (households["preferred_age_min"] > households["preferred_age_max"]).fillna(False).astype(bool)
    _problems_where(
        report,
        f,
        households,
        pref_bad,
        "preferred_age_max",
        "preferred_age_max at least preferred_age_min",
        "inconsistent",
        value=lambda r: f"{r['preferred_age_min']}-{r['preferred_age_max']}",
    )
    placed = pd.Series(0, index=households["household_id"].values, dtype="int64")
    siblings_only = pd.Series(True, index=households["household_id"].values)
    if children is not None:
        fostered = children[children["household_id"].notna() & children["place"].isin(codes.PLACE_FOSTER)]
        counts = fostered.groupby("household_id").size()
        placed = placed.add(counts, fill_value=0).astype("int64")
        by_home = fostered.groupby("household_id")["sibling_group_id"]
        groups = (by_home.count() == by_home.size()) & (by_home.nunique() == 1)
        siblings_only = siblings_only & groups.reindex(siblings_only.index, fill_value=True)
    if members is not None and not members.empty:
        extra = members[members["kind"] == "foster_child"].groupby("household_id").size()
        placed = placed.add(extra, fill_value=0).astype("int64")
        siblings_only = siblings_only & ~siblings_only.index.isin(extra.index)
    placed = placed.reindex(households["household_id"].values, fill_value=0)
    counts = pd.Series(placed.values, index=households.index)
    count_of = {k: int(v) for k, v in counts.items()}
    over = counts > households["approved_places"].astype("float").fillna(np.inf)
    _problems_where(
        report,
        f,
        households,
        over,
        "approved_places",
        "no more foster children than approved places",
        "over_capacity",
        value=lambda r: f"{count_of[r.name]} foster children, {r['approved_places']} places",
    )
    exempt = households["usual_limit_exemption"].fillna(False).astype(bool)
    all_siblings = pd.Series(siblings_only.reindex(households["household_id"].values).values, index=households.index)
    over_limit = (counts > 3) & ~exempt & ~all_siblings
    _problems_where(
        report,
        f,
        households,
        over_limit,
        "usual_limit_exemption",
        "at most 3 foster children unless all siblings or an exemption is recorded (Children Act 1989 Sch 7)",
        "over_capacity",
        value=lambda r: f"{count_of[r.name]} foster children, no exemption",
    )


def _check_placements(placements: pd.DataFrame, report: ValidationReport) -> None:
    f = "placements.csv"
    _problems_where(
        report,
        f,
        placements,
        placements["end_date"].notna()
        & placements["start_date"].notna()
        & (placements["end_date"] < placements["start_date"]),
        "end_date",
        "an end date on or after start_date",
        "inconsistent",
    )
    _problems_where(
        report,
        f,
        placements,
        placements["end_date"].notna() & placements["end_reason"].isna(),
        "end_reason",
        "a REASON_PLACE_CHANGE code for an ended placement",
        "required",
    )
    _problems_where(
        report,
        f,
        placements,
        placements["end_date"].isna() & placements["end_reason"].notna(),
        "end_reason",
        "no end reason while the placement is open (no end_date)",
        "inconsistent",
    )
    open_ = placements[placements["end_date"].isna() & placements["child_id"].notna()]
    twice = open_["child_id"].duplicated(keep="first")
    _problems_where(report, f, open_, twice, "child_id", "at most one open placement per child", "inconsistent")
