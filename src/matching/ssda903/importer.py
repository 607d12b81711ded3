"""SSDA903 into the store: check every cell by collection year, convert to the data contract, import it whole.

The 903 return becomes contract files (children, placements, SDQ scores, missing episodes) and goes
through the same validator and all-or-nothing import as any contract folder. What the 903 does not
hold (needs, religion, school, siblings, the carer household) is kept from the store for children
already there; a carer link is kept only while the child is still in the same placement.

Identity: a child from a 903 return is (authority, CHILD). ``ssda903_child`` maps it to the store's
``child_id``: a child already mapped keeps its id; a child the authority already holds under the
same id (imported from contract files) is adopted; any other child gets ``<LA>.<CHILD>``. CHILD ids
are unique only within an authority, so importing authority B never touches authority A.

History: a placement is a run of episodes (a new one at each RNE other than L, after a period of
care ended, and after time out of care); it ends on the DEC of its last episode. A child whose last
episode has ended ceased to be looked after (``ceased``, ``reason_ceased``) and is never treated as
placed or waiting.

Every problem is listed at once, the 903 stage's and the contract stage's together, each naming the
903 file, its row, the CHILD and the column; a problem that follows from an earlier one names it
as its cause. Nothing is written on any problem.
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from matching import codes
from matching.contract.spec import FILES_BY_NAME, FileSpec
from matching.contract.validate import ContractError, Problem, ValidationReport, validate_folder
from matching.decisions.outcomes_903 import ReturnPlacement, outcomes_from_return
from matching.domain import Location
from matching.ssda903 import rules
from matching.ssda903.read import Return903, parse_date, read_folder
from matching.store import schema
from matching.store.importer import ImportResult, import_folder

UNKNOWN_MILES = 999.9
_DATE = "a date dd/mm/YYYY (or YYYY-MM-DD)"

#: Where a contract column comes from in the 903: (which 903 row of the contract row, 903 column).
_ORIGIN_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "children": {
        "child_id": ("header", "CHILD"), "la_code": ("header", "CHILD"), "birth_month": ("header", "DOB"),
        "sex": ("header", "SEX"), "ethnicity": ("header", "ETHNIC"), "uasc": ("header", "CHILD"),
        "legal_status": ("last", "LS"), "category_of_need": ("last", "CIN"), "care_started": ("period", "DECOM"),
        "place": ("current", "PLACE"), "place_provider": ("current", "PLACE_PROVIDER"),
        "placement_start": ("current", "DECOM"), "home_easting": ("last", "HOME_POST"),
        "home_northing": ("last", "HOME_POST"), "ceased": ("last", "DEC"), "reason_ceased": ("last", "REC"),
    },
    "placements": {
        "placement_id": ("first", "CHILD"), "child_id": ("first", "CHILD"), "place": ("first", "PLACE"),
        "place_provider": ("first", "PLACE_PROVIDER"), "start_date": ("first", "DECOM"), "end_date": ("last", "DEC"),
        "end_reason": ("last", "REASON_PLACE_CHANGE"), "distance_miles": ("first", "PL_POST"),
    },
    "sdq_scores": {"child_id": ("row", "CHILD"), "assessed_on": ("row", "SDQ_SCORE"), "score": ("row", "SDQ_SCORE")},
    "missing_episodes": {
        "child_id": ("row", "CHILD"), "start_date": ("row", "MIS_START"), "end_date": ("row", "MIS_END"),
        "kind": ("row", "MISSING"),
    },
}  # fmt: skip

Where = tuple[str, int]


@dataclass
class Converted:
    """The contract tables built from a 903 return, where each row came from, and what was noticed."""

    tables: dict[str, pd.DataFrame]
    #: For each contract table, one dict per row: role -> (903 file, row), and "child" -> CHILD.
    origins: dict[str, list[dict[str, Any]]]
    problems: list[Problem]
    warnings: list[Problem]
    skipped: tuple[tuple[str, str], ...]
    episodes: int = 0
    uasc: int = 0
    not_stored: dict[str, int] = field(default_factory=dict)
    #: CHILD -> the store's child_id (set when checked against a store).
    mapping: dict[str, str] = field(default_factory=dict)
    #: Outcomes of recorded decisions this return showed (written by :func:`import_903`).
    outcomes: int = 0

    @property
    def children(self) -> int:
        """Children converted."""
        return len(self.tables["children"])

    @property
    def placements(self) -> int:
        """Placements converted."""
        return len(self.tables["placements"])

    @property
    def ignored_files(self) -> tuple[str, ...]:
        """Names of the files skipped."""
        return tuple(name for name, _ in self.skipped)


class _Problems:
    """Collects problems with the CHILD they are about."""

    def __init__(self, start: Iterable[Problem] = ()) -> None:
        self.items: list[Problem] = list(start)
        self.rows: dict[Where, Problem] = {}

    def add(
        self, r: dict[str, Any], column: str | None, value: str | None, expected: str, code: str = "invalid", *,
        cause: Problem | None = None,
    ) -> None:  # fmt: skip
        p = Problem(
            str(r["_file"]), int(r["_row"]), column, value, expected, code, child=str(r.get("CHILD", "")) or None,
            cause=None if cause is None else str(cause),
        )  # fmt: skip
        self.items.append(p)
        self.rows.setdefault((str(r["_file"]), int(r["_row"])), p)


def _records(ret: Return903, name: str) -> list[dict[str, Any]]:
    frame = ret.tables.get(name)
    if frame is None:
        return []
    names = [str(c) for c in frame.columns]
    columns = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _date_cell(p: _Problems, r: dict[str, Any], column: str, *, required: bool, extra: str = "") -> date | None:
    text = str(r.get(column, ""))
    if not text:
        if required:
            p.add(r, column, "", f"{_DATE}{extra}", "required")
        return None
    d = parse_date(text)
    if d is None:
        p.add(r, column, text, f"{_DATE}{extra}")
    return d


def convert(ret: Return903, *, la_code: str, year: int, existing: dict[str, dict[str, Any]] | None = None) -> Converted:
    """The contract tables of a 903 return for ``la_code`` in collection ``year``, with every 903 problem.

    Rows with a problem are left out of the tables (so the contract stage adds no knock-on of them).
    ``existing`` holds the store's rows of children already known, by CHILD."""
    existing = existing or {}
    p = _Problems(ret.problems)
    warnings = list(ret.warnings)
    header_missing = ret.unreadable.get("header")
    sexes = rules.sex_codes(year)
    kids: dict[str, dict[str, Any]] = {}
    bad_kids: set[str] = set()
    for r in _records(ret, "header"):
        cid = str(r["CHILD"])
        if not cid:
            p.add(r, "CHILD", "", "a child identifier", "required")
            continue
        if cid in kids or cid in bad_kids:
            p.add(r, "CHILD", cid, "each child once in the Header", "duplicate")
            bad_kids.add(cid)
            kids.pop(cid, None)
            continue
        ok = True
        dob = _date_cell(p, r, "DOB", required=True)
        ok &= dob is not None
        if r["SEX"] not in sexes:
            p.add(r, "SEX", r["SEX"], f"one of {', '.join(sexes)} in {rules.year_label(year)} (rule 101)")
            ok = False
        if r["ETHNIC"] not in codes.ETHNIC:
            p.add(r, "ETHNIC", r["ETHNIC"], "an SSDA903 ETHNIC code")
            ok = False
        if ok:
            kids[cid] = {"dob": dob, "sex": sexes[r["SEX"]], "ethnic": r["ETHNIC"], "row": r}
        else:
            bad_kids.add(cid)
    known = kids.keys() | bad_kids

    def unknown_child(r: dict[str, Any]) -> bool:
        if r["CHILD"] in known:
            return False
        p.add(r, "CHILD", str(r["CHILD"]), "a child in the Header", "unknown_child", cause=header_missing)
        return True

    eps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    episodes_read = 0
    reason_open_refused = rules.reason_on_open_refused(year)
    for r in _records(ret, "episodes"):
        episodes_read += 1
        if unknown_child(r):
            continue
        before = len(p.items)
        start = _date_cell(p, r, "DECOM", required=True)
        end = _date_cell(p, r, "DEC", required=False, extra=", or empty while open")
        if start and end and end < start:
            p.add(r, "DEC", r["DEC"], f"on or after DECOM ({r['DECOM']})")
        for col, allowed, what in (
            ("RNE", rules.RNE, "an RNE code (S, L, P, T, B, U)"),
            ("LS", codes.LEGAL_STATUS, "an SSDA903 LS code"),
            ("CIN", codes.CATEGORY_OF_NEED, "an SSDA903 CIN code (N1-N8)"),
        ):
            if r[col] not in allowed:
                p.add(r, col, str(r[col]), what, "required" if not r[col] else "invalid")
        wrong = rules.place_problem(str(r["PLACE"]), end, year) if start else None
        if wrong is not None:
            p.add(r, "PLACE", str(r["PLACE"]), wrong[1], f"rule_{wrong[0]}")
        prov = r["PLACE_PROVIDER"]
        if prov and prov not in codes.PLACE_PROVIDER:
            p.add(r, "PLACE_PROVIDER", prov, "PR0-PR5 or empty")
        reason = r["REASON_PLACE_CHANGE"]
        if reason and reason not in codes.REASON_PLACE_CHANGE:
            p.add(r, "REASON_PLACE_CHANGE", reason, "an SSDA903 REASON_PLACE_CHANGE code or empty")
        elif reason and not r["DEC"] and reason_open_refused:
            p.add(r, "REASON_PLACE_CHANGE", reason, "empty while the episode is open (rule 233, from 2025-26)",
                  "rule_233")  # fmt: skip
        rec = r["REC"]
        if r["DEC"] and rec not in codes.REASON_CEASED:
            p.add(r, "REC", rec, "an SSDA903 REC code (X1, E11 ... E9) for an episode that ended",
                  "required" if not rec else "invalid")  # fmt: skip
        if len(p.items) == before and r["CHILD"] in kids:
            eps[str(r["CHILD"])].append({**r, "start": start, "end": end})
    lookup = _postcodes(ret, p)
    sdq, sdq_origin = _sdq(ret, year, p, unknown_child)
    missing, miss_origin = _missing(ret, p, unknown_child, warnings)
    uasc_ids: set[str] = set()
    for r in _records(ret, "uasc"):
        if unknown_child(r):
            continue
        if r["DUC"] and parse_date(str(r["DUC"])) is None:
            p.add(r, "DUC", str(r["DUC"]), f"{_DATE}, or empty")
            continue
        uasc_ids.add(str(r["CHILD"]))

    children_rows: list[dict[str, Any]] = []
    child_origin: list[dict[str, Any]] = []
    placement_rows: list[dict[str, Any]] = []
    placement_origin: list[dict[str, Any]] = []
    for cid, info in kids.items():
        mine = sorted(eps.get(cid, []), key=lambda e: (e["start"], e["_row"]))
        if not mine:
            continue
        for i, e in enumerate(mine[:-1]):
            if e["end"] is None:  # an open episode followed by another: it ended when the next began
                warnings.append(Problem(str(e["_file"]), int(e["_row"]), "DEC", "", "a DEC on an episode followed by "
                                        f"another (taken as {mine[i + 1]['DECOM']}, the next DECOM)", "open_not_last",
                                        child=cid))  # fmt: skip
                e["end"] = mine[i + 1]["start"]
                e["DEC"] = mine[i + 1]["DECOM"]
        runs: list[list[dict[str, Any]]] = []
        period = 0
        for i, e in enumerate(mine):
            prev = mine[i - 1] if i else None
            care_ended = prev is not None and prev["REC"] != rules.REC_CONTINUES
            gap = prev is not None and prev["end"] is not None and prev["end"] < e["start"]
            if prev is None or e["RNE"] in rules.NEW_PLACEMENT or care_ended or gap:
                runs.append([e])
            else:
                runs[-1].append(e)
            if prev is not None and (care_ended or gap or e["RNE"] == "S"):
                period = len(runs) - 1
        current, last = runs[-1], mine[-1]
        home = lookup.get(str(last.get("HOME_POST", "")))
        first_pl = len(placement_rows)
        for k, run in enumerate(runs):
            end = run[-1]["end"]
            reason = run[-1]["REASON_PLACE_CHANGE"] if end else ""
            if end and not reason:
                reason = "OTHER"
            h = lookup.get(str(run[0].get("HOME_POST", "")))
            pl = lookup.get(str(run[0].get("PL_POST", "")))
            miles = "" if h is None or pl is None else f"{min(h.miles_to(pl), UNKNOWN_MILES):.1f}"
            placement_rows.append(
                {
                    "placement_id": f"{cid}-903-{k + 1:03d}", "child_id": cid, "household_id": "",
                    "place": run[0]["PLACE"], "place_provider": run[0]["PLACE_PROVIDER"],
                    "start_date": run[0]["start"].isoformat(), "end_date": end.isoformat() if end else "",
                    "end_reason": reason, "distance_miles": miles,
                }
            )  # fmt: skip
            placement_origin.append({"first": run[0], "last": run[-1], "child": cid})
        stored_row = existing.get(cid, {})
        start = current[0]["start"]
        ceased = last["end"]
        same_placement = (
            ceased is None
            and stored_row.get("placement_start") == start
            and stored_row.get("place") == current[0]["PLACE"]
        )
        if same_placement and stored_row.get("household_id"):
            placement_rows[-1]["household_id"] = stored_row["household_id"]
        del first_pl
        children_rows.append(
            {
                **{k: v for k, v in stored_row.items() if k in FILES_BY_NAME["children"].column_index},
                "child_id": cid, "la_code": la_code, "birth_month": info["dob"].strftime("%Y-%m"),
                "sex": info["sex"], "ethnicity": info["ethnic"],
                "uasc": "true" if cid in uasc_ids else stored_row.get("uasc", "false") or "false",
                "legal_status": last["LS"], "category_of_need": last["CIN"],
                "care_started": runs[period][0]["start"].isoformat(), "place": current[0]["PLACE"],
                "place_provider": current[0]["PLACE_PROVIDER"], "placement_start": start.isoformat(),
                "household_id": stored_row.get("household_id", "") if same_placement else "",
                "home_easting": "" if home is None else str(home.easting),
                "home_northing": "" if home is None else str(home.northing),
                "ceased": ceased.isoformat() if ceased else "", "reason_ceased": last["REC"] if ceased else "",
            }
        )  # fmt: skip
        child_origin.append(
            {"header": info["row"], "period": runs[period][0], "current": current[0], "last": last, "child": cid}
        )
    # children with no episode this year whose earlier history the store holds keep their rows, so
    # their SDQ scores and missing episodes are stored too
    for cid, row in existing.items():
        if cid in kids and cid not in eps:
            children_rows.append(
                {k: ("" if v is None else v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
                | {"child_id": cid, "ceased": None, "reason_ceased": None}
            )
            child_origin.append({"header": kids[cid]["row"], "child": cid})
    stored = {r["child_id"] for r in children_rows}
    not_stored = {
        "sdq_scores": sum(1 for s in sdq if s[0] not in stored),
        "missing_episodes": sum(1 for m in missing if m[0] not in stored),
        "uasc": len(uasc_ids - stored),
    }
    sdq_keep = [i for i, s in enumerate(sdq) if s[0] in stored]
    miss_keep = [i for i, m in enumerate(missing) if m[0] in stored]
    tables = {
        "children": pd.DataFrame(children_rows, columns=None if children_rows else ["child_id"]),
        "placements": pd.DataFrame(placement_rows, columns=None if placement_rows else ["placement_id"]),
        "sdq_scores": pd.DataFrame([sdq[i] for i in sdq_keep], columns=["child_id", "assessed_on", "score"]),
        "missing_episodes": pd.DataFrame(
            [missing[i] for i in miss_keep], columns=["child_id", "start_date", "end_date", "kind"]
        ),
    }
    origins = {
        "children": child_origin,
        "placements": placement_origin,
        "sdq_scores": [sdq_origin[i] for i in sdq_keep],
        "missing_episodes": [miss_origin[i] for i in miss_keep],
    }
    return Converted(
        tables, origins, p.items, warnings, tuple(ret.skipped), episodes=episodes_read,
        uasc=len(uasc_ids & stored), not_stored=not_stored,
    )  # fmt: skip


def _postcodes(ret: Return903, p: _Problems) -> dict[str, Location]:
    out: dict[str, Location] = {}
    for r in _records(ret, "postcodes"):
        try:
            e, n = float(r["EASTING"]), float(r["NORTHING"])
            if not (math.isfinite(e) and math.isfinite(n) and 0 <= e <= 700_000 and 0 <= n <= 1_300_000):
                raise ValueError
            out[str(r["SECTOR"]).strip().upper()] = Location(int(e), int(n))
        except (ValueError, OverflowError):
            p.add(r, "EASTING", f"{r['EASTING']},{r['NORTHING']}",
                  "grid easting 0-700000 and northing 0-1300000 in metres")  # fmt: skip
    return out


def _sdq(
    ret: Return903, year: int, p: _Problems, unknown_child: Any
) -> tuple[list[tuple[str, str, int]], list[dict[str, Any]]]:
    out: list[tuple[str, str, int]] = []
    origin: list[dict[str, Any]] = []
    on = date(year, 3, 31).isoformat()
    seen: set[str] = set()
    for r in _records(ret, "oc2"):
        if unknown_child(r):
            continue
        score = str(r["SDQ_SCORE"])
        if not score:
            continue  # no score: SDQ_REASON says why; "not known", never zero
        if not score.isdigit() or not 0 <= int(score) <= 40:
            p.add(r, "SDQ_SCORE", score, "a whole number 0-40, or empty with SDQ_REASON")
            continue
        if r["CHILD"] in seen:
            p.add(r, "CHILD", str(r["CHILD"]), "each child once in OC2", "duplicate")
            continue
        seen.add(str(r["CHILD"]))
        out.append((str(r["CHILD"]), on, int(score)))
        origin.append({"row": r, "child": r["CHILD"]})
    return out, origin


def _missing(
    ret: Return903, p: _Problems, unknown_child: Any, warnings: list[Problem]
) -> tuple[list[tuple[str, str, str, str]], list[dict[str, Any]]]:
    out: list[tuple[str, str, str, str]] = []
    origin: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], str] = {}
    for r in _records(ret, "missing"):
        if unknown_child(r):
            continue
        kind = rules.MISSING_KIND.get(str(r["MISSING"]))
        if kind is None:
            p.add(r, "MISSING", str(r["MISSING"]), "M (missing) or A (away without authorisation)")
        start = _date_cell(p, r, "MIS_START", required=True)
        end = _date_cell(p, r, "MIS_END", required=False, extra=", or empty")
        if start and end and end < start:
            p.add(r, "MIS_END", str(r["MIS_END"]), f"on or after MIS_START ({r['MIS_START']})")
            continue
        if kind and start:
            key = (str(r["CHILD"]), start.isoformat(), kind)
            end_text = end.isoformat() if end else ""
            if key in seen:
                if seen[key] != end_text:
                    p.add(r, "MIS_END", str(r["MIS_END"]),
                          f"one end for the missing episode of this CHILD, start and kind (another row says "
                          f"{seen[key] or 'still missing'})", "duplicate")  # fmt: skip
                else:
                    warnings.append(Problem(str(r["_file"]), int(r["_row"]), "MIS_START", str(r["MIS_START"]),
                                            "each missing episode once (this row repeats an earlier one; kept once)",
                                            "duplicate", child=key[0]))  # fmt: skip
                continue
            seen[key] = end_text
            out.append((key[0], key[1], end_text, kind))
            origin.append({"row": r, "child": r["CHILD"]})
    return out, origin


# --- the store ---------------------------------------------------------------------------


def _as_text(value: Any, spec_kind: str) -> str:
    if value is None:
        return ""
    if spec_kind in ("codes", "ids", "words"):
        return ";".join(value)
    if spec_kind == "bool":
        return "true" if value else "false"
    if spec_kind == "month":
        return value.strftime("%Y-%m")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _store_rows(conn: Connection, spec: FileSpec, column: str, values: list[str]) -> pd.DataFrame:
    """Rows of a store table as contract text (for carrying referenced rows through an import unchanged)."""
    table = schema.TABLES[spec.name]
    rows: list[dict[str, str]] = []
    for i in range(0, len(values), 900):
        stmt = select(table).where(table.c[column].in_(values[i : i + 900]))
        for r in conn.execute(stmt).mappings():
            rows.append({c.name: _as_text(r[c.name], c.kind) for c in spec.columns})
    return pd.DataFrame(rows, columns=[c.name for c in spec.columns])


def resolve_ids(conn: Connection, la_code: str, children: Iterable[str]) -> dict[str, str]:
    """The store's child_id of each CHILD of ``la_code``'s return: mapped, adopted or ``<LA>.<CHILD>``."""
    wanted = sorted(set(children))
    m = schema.ssda903_child
    mapped: dict[str, str] = {}
    for i in range(0, len(wanted), 900):
        stmt = select(m.c.child, m.c.child_id).where(m.c.la_code == la_code, m.c.child.in_(wanted[i : i + 900]))
        mapped.update({str(a): str(b) for a, b in conn.execute(stmt)})
    rest = [c for c in wanted if c not in mapped]
    taken: set[str] = set()
    c = schema.child
    for i in range(0, len(rest), 900):
        stmt = select(c.c.child_id).where(c.c.child_id.in_(rest[i : i + 900]), c.c.la_code == la_code)
        same_la = {str(x) for x in conn.execute(stmt).scalars()}
        # adopted only when no other authority's CHILD already maps to that store child
        owned = select(m.c.child_id).where(m.c.child_id.in_(sorted(same_la)))
        taken = {str(x) for x in conn.execute(owned).scalars()}
        mapped.update({x: x for x in same_la - taken})
    for cid in wanted:
        mapped.setdefault(cid, f"{la_code}.{cid}")
    return mapped


def _rename(converted: Converted, ids: dict[str, str]) -> None:
    t = converted.tables
    for name in ("children", "placements", "sdq_scores", "missing_episodes"):
        frame = t[name]
        if len(frame) and "child_id" in frame:
            frame["child_id"] = frame["child_id"].map(ids)
    pl = t["placements"]
    if len(pl):
        pl["placement_id"] = [
            f"{c}-903-{pid.rsplit('-903-', 1)[1]}" for c, pid in zip(pl["child_id"], pl["placement_id"], strict=True)
        ]


def _existing_children(conn: Connection, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    frame = _store_rows(conn, FILES_BY_NAME["children"], "child_id", sorted(set(ids.values())))
    back = {v: k for k, v in ids.items()}
    out: dict[str, dict[str, Any]] = {}
    for record in frame.to_dict("records"):
        r = {str(k): v for k, v in record.items()}
        r["placement_start"] = date.fromisoformat(r["placement_start"]) if r["placement_start"] else None
        out[back[str(r["child_id"])]] = r
    return out


def _where(origin: dict[str, Any], role: str) -> tuple[str, int] | None:
    r = origin.get(role)
    if r is None:
        return None
    return str(r["_file"]), int(r["_row"])


def _map_contract_problems(report: ValidationReport, converted: Converted, folder_name: str) -> list[Problem]:
    """The contract stage's problems, pointed at the 903 file, row, CHILD and column they come from."""
    out: list[Problem] = []
    by_file = {FILES_BY_NAME[name].filename: name for name in converted.origins}
    for prob in report.problems:
        name = by_file.get(prob.file)
        origins = converted.origins.get(name, []) if name else []
        i = (prob.row or 0) - 2
        if name is None or not 0 <= i < len(origins):
            out.append(Problem(f"{folder_name} (the store's {prob.file}, carried through)", prob.row, prob.column,
                               prob.value, prob.expected, prob.code))  # fmt: skip
            continue
        origin = origins[i]
        role, column = _ORIGIN_COLUMNS[name].get(prob.column or "", ("header" if name == "children" else "row", ""))
        where = _where(origin, role) or _where(origin, "header") or _where(origin, "row") or (folder_name, 0)
        column_text = column or f"{prob.column} (kept from the store)"
        out.append(
            Problem(
                where[0],
                where[1] or None,
                column_text,
                prob.value,
                f"{prob.expected} [{prob.file} {prob.column}]",
                prob.code,
                child=str(origin["child"]),
            )
        )
    return out


def order_problems(problems: list[Problem]) -> list[Problem]:
    """Problems whose file could not be read first, then by file, row and column; each knock-on under its cause."""
    roots = [p for p in problems if p.cause is None]
    caused: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        if p.cause is not None:
            caused[p.cause].append(p)
    roots.sort(key=lambda p: (p.row is not None, p.file, p.row or 0, p.column or "", p.expected))
    out: list[Problem] = []
    placed: set[str] = set()
    for r in roots:
        out.append(r)
        key = str(r)
        if key in caused and key not in placed:
            placed.add(key)
            out.extend(sorted(caused[key], key=lambda p: (p.file, p.row or 0, p.column or "")))
    for key, items in caused.items():
        if key not in placed:
            out.extend(items)
    return out


def _fail(folder: Path, problems: list[Problem], warnings: list[Problem]) -> ContractError:
    return ContractError(ValidationReport(folder, problems=order_problems(problems), warnings=warnings))


def check_903(
    engine: Engine, folder: Path, *, la_code: str, year: int
) -> tuple[Converted, ValidationReport | None, Path | None, tempfile.TemporaryDirectory[str] | None]:
    """Read, check and convert a return and run the contract stage on it; raise ContractError listing every problem."""
    ret = read_folder(folder)
    problems: list[Problem] = []
    with engine.connect() as conn:
        la = _store_rows(conn, FILES_BY_NAME["local_authorities"], "la_code", [la_code])
        if la.empty:
            problems.append(
                Problem(
                    folder.name,
                    None,
                    "--la",
                    la_code,
                    "a local authority already in the store (import it first)",
                    "unknown_authority",
                )
            )
        raw_ids = [str(c) for c in ret.tables["header"]["CHILD"] if c] if "header" in ret.tables else []
        ids = resolve_ids(conn, la_code, raw_ids) if not la.empty else {c: f"{la_code}.{c}" for c in raw_ids}
        existing = _existing_children(conn, ids) if not la.empty else {}
        converted = convert(ret, la_code=la_code, year=year, existing=existing)
        problems.extend(converted.problems)
        _rename(converted, ids)
        _keep_what_the_903_lacks(conn, converted, sorted(set(ids.values())))
        _carry_siblings(conn, converted)
        linked = [converted.tables[t].get("household_id", pd.Series(dtype=str)) for t in ("children", "placements")]
        hids = sorted({str(h) for col in linked for h in col if isinstance(h, str) and h})
        households = _store_rows(conn, FILES_BY_NAME["households"], "household_id", hids)
        agencies = _store_rows(conn, FILES_BY_NAME["agencies"], "agency_code", sorted(set(households["agency_code"])))
        agency_las = sorted(({a for a in agencies["la_code"] if a} | set(households["la_code"])) - {la_code})
        others = _store_rows(conn, FILES_BY_NAME["local_authorities"], "la_code", agency_las)
    converted.mapping = ids
    if la.empty:
        raise _fail(folder, problems, converted.warnings)
    tmp = tempfile.TemporaryDirectory(prefix="ssda903-")
    out = Path(tmp.name)
    pd.concat([la, others]).to_csv(out / "local_authorities.csv", index=False)
    agencies.to_csv(out / "agencies.csv", index=False)
    households.to_csv(out / "households.csv", index=False)
    for name, frame in converted.tables.items():
        spec = FILES_BY_NAME[name]
        cols = [c.name for c in spec.columns if c.name in frame.columns or c.required]
        frame.reindex(columns=cols).fillna("").to_csv(out / spec.filename, index=False)
    report = validate_folder(out)
    problems.extend(_map_contract_problems(report, converted, folder.name))
    if problems:
        tmp.cleanup()
        raise _fail(folder, problems, converted.warnings)
    return converted, report, out, tmp


def import_903(engine: Engine, folder: Path, *, la_code: str, year: int) -> tuple[ImportResult, Converted]:
    """Read, check and convert a 903 return, then import it all or nothing; ContractError lists every problem."""
    converted, report, out, tmp = check_903(engine, folder, la_code=la_code, year=year)
    assert report is not None
    assert out is not None
    assert tmp is not None
    ids = converted.mapping
    stored = set(converted.tables["children"]["child_id"]) if len(converted.tables["children"]) else set()
    rows = [{"la_code": la_code, "child": c, "child_id": i} for c, i in sorted(ids.items()) if i in stored]

    kids = converted.tables["children"]
    status = [
        {"cid": c, "ceased": date.fromisoformat(d) if d else None, "reason": r or None}
        for c, d, r in zip(kids["child_id"], kids["ceased"], kids["reason_ceased"], strict=True)
        if isinstance(d, str)
    ] if "ceased" in kids else []  # fmt: skip

    def write_mapping(conn: Connection) -> None:
        table = schema.ssda903_child
        insert = sqlite.insert(table) if conn.dialect.name == "sqlite" else postgresql.insert(table)
        for i in range(0, len(rows), 5_000):
            conn.execute(insert.on_conflict_do_nothing(index_elements=["la_code", "child"]), rows[i : i + 5_000])
        c = schema.child
        stmt = (
            update(c)
            .where(c.c.child_id == bindparam("cid"))
            .values(ceased=bindparam("ceased"), reason_ceased=bindparam("reason"))
        )
        for i in range(0, len(status), 5_000):
            conn.execute(stmt, status[i : i + 5_000])
        # the placements that decisions chose, as this return shows them (all or nothing with the import)
        converted.outcomes = len(outcomes_from_return(conn, la_code, return_placements(converted)))

    try:
        result = import_folder(engine, out, validated=report, before_commit=write_mapping)
    finally:
        tmp.cleanup()
    return result, converted


def return_placements(converted: Converted) -> list[ReturnPlacement]:
    """Every placement of the return's children, with the CHILD, its first RNE and its last REC."""
    out: list[ReturnPlacement] = []
    frame = converted.tables["placements"]
    origins = converted.origins["placements"]
    if not len(frame):
        return out
    households = frame["household_id"] if "household_id" in frame else pd.Series([""] * len(frame))
    for origin, household in zip(origins, households.tolist(), strict=True):
        first, last = origin["first"], origin["last"]
        end = last["end"]
        out.append(
            ReturnPlacement(
                child=str(origin["child"]),
                start=first["start"],
                place=str(first["PLACE"]),
                first_rne=str(first["RNE"]),
                place_provider=str(first["PLACE_PROVIDER"]) or None,
                end=end,
                rec=(str(last["REC"]) or None) if end is not None else None,
                household_id=household if isinstance(household, str) and household else None,
            )
        )
    return out


def _carry_siblings(conn: Connection, converted: Converted) -> None:
    """Brothers and sisters of this return's children whom the store holds and the return does not: their
    rows go through unchanged, so a sibling group stays a group (the contract checks it has two children)."""
    kids = converted.tables["children"]
    if not len(kids) or "sibling_group_id" not in kids:
        return
    groups = sorted({str(g) for g in kids["sibling_group_id"] if isinstance(g, str) and g})
    if not groups:
        return
    others = _store_rows(conn, FILES_BY_NAME["children"], "sibling_group_id", groups)
    others = others[~others["child_id"].isin(set(kids["child_id"]))]
    if others.empty:
        return
    converted.tables["children"] = pd.concat([kids, others.assign(ceased=None, reason_ceased=None)], ignore_index=True)
    converted.origins["children"].extend({"child": str(c)} for c in others["child_id"])


def infer_year(folder: Path) -> int | None:
    """The latest collection year (1 April to 31 March) holding at least 1% of the episode dates.

    One late date does not move the year: the return's own year holds most of its DECOM and DEC."""
    ret = read_folder(folder)
    frame = ret.tables.get("episodes")
    if frame is None:
        return None
    counts: dict[int, int] = defaultdict(int)
    for col in ("DECOM", "DEC"):
        if col not in frame:
            continue
        for v in frame[col]:
            d = parse_date(str(v))
            if d is not None:
                counts[d.year + (1 if d.month >= 4 else 0)] += 1
    if not counts:
        return None
    total = sum(counts.values())
    return max(y for y, n in counts.items() if n >= 0.01 * total)


def _keep_what_the_903_lacks(conn: Connection, converted: Converted, ids: list[str]) -> None:
    """Carry through what the store knows and the 903 does not: earlier SDQ scores, missing episodes
    already recorded, and the carer household of a past placement (same child, start and PLACE)."""
    t = converted.tables
    # only for children this import writes (a child left out for a problem keeps what the store has)
    ids = sorted(set(ids) & set(t["children"]["child_id"])) if len(t["children"]) else []
    old_sdq = _store_rows(conn, FILES_BY_NAME["sdq_scores"], "child_id", ids)
    n_sdq = len(old_sdq)
    t["sdq_scores"] = (
        pd.concat([old_sdq, t["sdq_scores"].astype(str)], ignore_index=True)
        .drop_duplicates(["child_id", "assessed_on"], keep="last")
        .sort_values(["child_id", "assessed_on"], kind="stable")
    )
    old_missing = _store_rows(conn, FILES_BY_NAME["missing_episodes"], "child_id", ids)
    n_miss = len(old_missing)
    t["missing_episodes"] = pd.concat(
        [old_missing, t["missing_episodes"].astype(str)], ignore_index=True
    ).drop_duplicates(["child_id", "start_date", "kind"], keep="last")
    # keep the origins aligned with the rows (rows from the store have none)
    for name, n_old in (("sdq_scores", n_sdq), ("missing_episodes", n_miss)):
        frame = t[name]
        mine = converted.origins[name]
        aligned = [mine[i - n_old] if i >= n_old else {"child": ""} for i in frame.index]
        converted.origins[name] = aligned
        t[name] = frame.reset_index(drop=True)
    old_pl = _store_rows(conn, FILES_BY_NAME["placements"], "child_id", ids)
    carers = {
        (r.child_id, r.start_date, r.place): r.household_id for r in old_pl.itertuples(index=False) if r.household_id
    }
    pl = t["placements"]
    if len(pl):
        keys = zip(pl["child_id"], pl["start_date"], pl["place"], strict=True)
        pl["household_id"] = pd.Series(
            [h or carers.get(k, "") for h, k in zip(pl["household_id"], keys, strict=True)], index=pl.index
        )
