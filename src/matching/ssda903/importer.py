"""SSDA903 into the store: check every cell by collection year, convert to the data contract, import it whole.

The 903 return becomes contract files (children, placements, SDQ scores, missing episodes) and goes
through the same validator and all-or-nothing import as any contract folder. What the 903 does not
hold (needs, religion, school, siblings, the carer household) is kept from the store for children
already there; a carer link is kept only while the child is still in the same placement.

Every problem is listed (file, row, column, value, what was expected) before anything is written.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from matching import codes
from matching.contract.spec import FILES_BY_NAME, FileSpec
from matching.contract.validate import ContractError, Problem, ValidationReport
from matching.domain import Location
from matching.ssda903 import rules
from matching.ssda903.read import Return903, parse_date, read_folder
from matching.store import schema
from matching.store.importer import ImportResult, import_folder

UNKNOWN_MILES = 999.9


@dataclass(frozen=True)
class Converted:
    """The contract tables built from a 903 return, and what the conversion noticed."""

    tables: dict[str, pd.DataFrame]
    children: int
    placements: int
    ignored_files: tuple[str, ...]


def _problem(report: list[Problem], frame_row: Any, column: str, value: str, expected: str) -> None:
    report.append(Problem(str(frame_row["_file"]), int(frame_row["_row"]), column, value, expected))


def _fail(folder: Path, problems: list[Problem]) -> None:
    report = ValidationReport(folder, problems=sorted(problems, key=lambda p: (p.file, p.row or -1, p.column or "")))
    raise ContractError(report)


def convert(
    ret: Return903, *, la_code: str, year: int, existing: dict[str, dict[str, Any]], folder: Path = Path(".")
) -> Converted:
    """The contract tables of a 903 return for ``la_code`` in collection ``year``; ContractError lists every problem."""
    problems = list(ret.problems)
    header = ret.tables.get("header", pd.DataFrame(columns=["CHILD", "SEX", "DOB", "ETHNIC", "_file", "_row"]))
    episodes = ret.tables.get(
        "episodes", pd.DataFrame(columns=["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "_file", "_row"])
    )
    sexes = rules.sex_codes(year)
    open_places, history_places = rules.place_codes(year), rules.history_place_codes()
    kids: dict[str, dict[str, Any]] = {}
    for _, r in header.iterrows():
        cid = r["CHILD"]
        if not cid:
            _problem(problems, r, "CHILD", "", "a child identifier")
            continue
        if cid in kids:
            _problem(problems, r, "CHILD", cid, "each child once in the Header")
            continue
        dob = parse_date(r["DOB"])
        if dob is None:
            _problem(problems, r, "DOB", r["DOB"], "a date dd/mm/YYYY (or YYYY-MM-DD)")
        if r["SEX"] not in sexes:
            _problem(problems, r, "SEX", r["SEX"], f"one of {', '.join(sexes)} in {rules.year_label(year)}")
        if r["ETHNIC"] not in codes.ETHNIC:
            _problem(problems, r, "ETHNIC", r["ETHNIC"], "an SSDA903 ETHNIC code")
        kids[cid] = {"dob": dob, "sex": sexes.get(r["SEX"]), "ethnic": r["ETHNIC"]}
    eps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, r in episodes.iterrows():
        cid = r["CHILD"]
        if cid not in kids:
            _problem(problems, r, "CHILD", cid, "a child in the Header")
            continue
        start, end = parse_date(r["DECOM"]), parse_date(r.get("DEC", "")) if r.get("DEC", "") else None
        if start is None:
            _problem(problems, r, "DECOM", r["DECOM"], "a date dd/mm/YYYY (or YYYY-MM-DD)")
        if r.get("DEC", "") and end is None:
            _problem(problems, r, "DEC", r["DEC"], "a date dd/mm/YYYY (or YYYY-MM-DD), or empty while open")
        if start and end and end < start:
            _problem(problems, r, "DEC", r["DEC"], f"on or after DECOM ({r['DECOM']})")
        for col, allowed, what in (
            ("RNE", rules.RNE, "an RNE code (S, L, P, T, B, U)"),
            ("LS", codes.LEGAL_STATUS, "an SSDA903 LS code"),
            ("CIN", codes.CATEGORY_OF_NEED, "an SSDA903 CIN code (N1-N8)"),
        ):
            if r[col] not in allowed:
                _problem(problems, r, col, r[col], what)
        place = r["PLACE"]
        allowed_places = history_places if r.get("DEC", "") else open_places
        if place not in allowed_places:
            why = (f"a PLACE code valid in {rules.year_label(year)} for an open episode" if not r.get("DEC", "")
                   else "an SSDA903 PLACE code")  # fmt: skip
            _problem(problems, r, "PLACE", place, why)
        prov = r.get("PLACE_PROVIDER", "")
        if prov and prov not in codes.PLACE_PROVIDER:
            _problem(problems, r, "PLACE_PROVIDER", prov, "PR0-PR5 or empty")
        reason = r.get("REASON_PLACE_CHANGE", "")
        if reason and reason not in codes.REASON_PLACE_CHANGE:
            _problem(problems, r, "REASON_PLACE_CHANGE", reason, "an SSDA903 REASON_PLACE_CHANGE code or empty")
        eps[cid].append({**{str(k): v for k, v in r.items()}, "start": start, "end": end})
    lookup = _postcodes(ret, problems)
    sdq = _sdq(ret, kids, year, problems)
    missing = _missing(ret, kids, problems)
    if problems:
        _fail(folder, problems)

    children_rows, placement_rows = [], []
    uasc_ids = set(ret.tables["uasc"]["CHILD"]) if "uasc" in ret.tables else set()
    for cid, info in kids.items():
        mine = sorted(eps.get(cid, []), key=lambda e: (e["start"], e["_row"]))
        if not mine:
            continue
        runs: list[list[dict[str, Any]]] = []
        for e in mine:
            if not runs or e["RNE"] in rules.NEW_PLACEMENT:
                runs.append([e])
            else:
                runs[-1].append(e)
        period = max((i for i, e in enumerate(mine) if e["RNE"] == "S"), default=0)
        current = runs[-1]
        last = current[-1]
        home = lookup.get(last.get("HOME_POST", ""))
        for k, run in enumerate(runs):
            end = run[-1]["end"] if k == len(runs) - 1 else runs[k + 1][0]["start"]
            reason = run[-1].get("REASON_PLACE_CHANGE", "") or ("OTHER" if end else "")
            h = lookup.get(run[0].get("HOME_POST", ""))
            pl = lookup.get(run[0].get("PL_POST", ""))
            miles = "" if h is None or pl is None else f"{h.miles_to(pl):.1f}"
            placement_rows.append(
                {
                    "placement_id": f"{cid}-903-{k + 1:03d}", "child_id": cid, "household_id": "",
                    "place": run[0]["PLACE"], "place_provider": run[0].get("PLACE_PROVIDER", ""),
                    "start_date": run[0]["start"].isoformat(), "end_date": end.isoformat() if end else "",
                    "end_reason": reason, "distance_miles": miles,
                }
            )  # fmt: skip
        before = existing.get(cid, {})
        start = current[0]["start"]
        same_placement = before.get("placement_start") == start and before.get("place") == current[0]["PLACE"]
        if same_placement and before.get("household_id"):
            placement_rows[-1]["household_id"] = before["household_id"]
        children_rows.append(
            {
                **{k: v for k, v in before.items() if k in FILES_BY_NAME["children"].column_index},
                "child_id": cid, "la_code": la_code, "birth_month": info["dob"].strftime("%Y-%m"),
                "sex": info["sex"], "ethnicity": info["ethnic"], "uasc": "true" if cid in uasc_ids else before.get("uasc", "false"),
                "legal_status": last["LS"], "category_of_need": last["CIN"],
                "care_started": mine[period]["start"].isoformat(), "place": current[0]["PLACE"],
                "place_provider": current[0].get("PLACE_PROVIDER", ""), "placement_start": start.isoformat(),
                "household_id": before.get("household_id", "") if same_placement else "",
                "home_easting": "" if home is None else str(home.easting),
                "home_northing": "" if home is None else str(home.northing),
            }
        )  # fmt: skip
    tables = {
        "children": pd.DataFrame(children_rows),
        "placements": pd.DataFrame(placement_rows),
        "sdq_scores": pd.DataFrame(sdq, columns=["child_id", "assessed_on", "score"]),
        "missing_episodes": pd.DataFrame(missing, columns=["child_id", "start_date", "end_date", "kind"]),
    }
    return Converted(tables, len(children_rows), len(placement_rows), tuple(ret.ignored))


def _postcodes(ret: Return903, problems: list[Problem]) -> dict[str, Location]:
    frame = ret.tables.get("postcodes")
    out: dict[str, Location] = {}
    if frame is None:
        return out
    for _, r in frame.iterrows():
        try:
            out[r["sector"]] = Location(int(float(r["easting"])), int(float(r["northing"])))
        except ValueError:
            _problem(problems, r, "easting", f"{r['easting']},{r['northing']}", "grid easting and northing in metres")
    return out


def _sdq(
    ret: Return903, kids: dict[str, dict[str, Any]], year: int, problems: list[Problem]
) -> list[tuple[str, str, int]]:
    frame = ret.tables.get("oc2")
    out: list[tuple[str, str, int]] = []
    if frame is None:
        return out
    on = date(year, 3, 31).isoformat()
    for _, r in frame.iterrows():
        if r["CHILD"] not in kids:
            _problem(problems, r, "CHILD", r["CHILD"], "a child in the Header")
            continue
        score = r["SDQ_SCORE"]
        if not score:
            continue  # no score: SDQ_REASON says why; "not known", never zero
        if not score.isdigit() or not 0 <= int(score) <= 40:
            _problem(problems, r, "SDQ_SCORE", score, "a whole number 0-40, or empty with SDQ_REASON")
            continue
        out.append((r["CHILD"], on, int(score)))
    return out


def _missing(
    ret: Return903, kids: dict[str, dict[str, Any]], problems: list[Problem]
) -> list[tuple[str, str, str, str]]:
    frame = ret.tables.get("missing")
    out: list[tuple[str, str, str, str]] = []
    if frame is None:
        return out
    seen: set[tuple[str, str, str]] = set()
    for _, r in frame.iterrows():
        if r["CHILD"] not in kids:
            _problem(problems, r, "CHILD", r["CHILD"], "a child in the Header")
            continue
        kind = rules.MISSING_KIND.get(r["MISSING"])
        if kind is None:
            _problem(problems, r, "MISSING", r["MISSING"], "M (missing) or A (away without authorisation)")
        start = parse_date(r["MIS_START"])
        if start is None:
            _problem(problems, r, "MIS_START", r["MIS_START"], "a date dd/mm/YYYY (or YYYY-MM-DD)")
        end_text = r.get("MIS_END", "")
        end = parse_date(end_text) if end_text else None
        if end_text and end is None:
            _problem(problems, r, "MIS_END", end_text, "a date dd/mm/YYYY (or YYYY-MM-DD), or empty")
        if kind and start:
            key = (r["CHILD"], start.isoformat(), kind)
            if key not in seen:
                seen.add(key)
                out.append((r["CHILD"], start.isoformat(), end.isoformat() if end else "", kind))
    return out


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


def _store_rows(conn: Any, spec: FileSpec, column: str, values: list[str]) -> pd.DataFrame:
    """Rows of a store table as contract text (for carrying referenced rows through an import unchanged)."""
    table = schema.TABLES[spec.name]
    rows: list[dict[str, str]] = []
    for i in range(0, len(values), 900):
        stmt = select(table).where(table.c[column].in_(values[i : i + 900]))
        for r in conn.execute(stmt).mappings():
            rows.append({c.name: _as_text(r[c.name], c.kind) for c in spec.columns})
    return pd.DataFrame(rows, columns=[c.name for c in spec.columns])


def import_903(engine: Engine, folder: Path, *, la_code: str, year: int) -> tuple[ImportResult, Converted]:
    """Read, check and convert a 903 return, then import it all or nothing; ContractError lists every problem."""
    ret = read_folder(folder)
    with engine.connect() as conn:
        la = _store_rows(conn, FILES_BY_NAME["local_authorities"], "la_code", [la_code])
        if la.empty:
            ret.problems.append(
                Problem(folder.name, None, None, la_code, "a local authority already in the store (import it first)")
            )
        ids = sorted(set(ret.tables["header"]["CHILD"])) if "header" in ret.tables else []
        existing_frame = _store_rows(conn, FILES_BY_NAME["children"], "child_id", ids)
        existing: dict[str, dict[str, Any]] = {}
        for record in existing_frame.to_dict("records"):
            r = {str(k): v for k, v in record.items()}
            r["placement_start"] = date.fromisoformat(r["placement_start"]) if r["placement_start"] else None
            existing[str(r["child_id"])] = r
        converted = convert(ret, la_code=la_code, year=year, existing=existing, folder=folder)
        _keep_what_the_903_lacks(conn, converted, ids)
        linked = [converted.tables[t].get("household_id", pd.Series(dtype=str)) for t in ("children", "placements")]
        hids = sorted({str(h) for col in linked for h in col if h})
        households = _store_rows(conn, FILES_BY_NAME["households"], "household_id", hids)
        agencies = _store_rows(conn, FILES_BY_NAME["agencies"], "agency_code", sorted(set(households["agency_code"])))
        agency_las = sorted(({a for a in agencies["la_code"] if a} | set(households["la_code"])) - {la_code})
        others = _store_rows(conn, FILES_BY_NAME["local_authorities"], "la_code", agency_las)
    with tempfile.TemporaryDirectory(prefix="ssda903-") as tmp:
        out = Path(tmp)
        pd.concat([la, others]).to_csv(out / "local_authorities.csv", index=False)
        agencies.to_csv(out / "agencies.csv", index=False)
        households.to_csv(out / "households.csv", index=False)
        for name, frame in converted.tables.items():
            spec = FILES_BY_NAME[name]
            cols = [c.name for c in spec.columns if c.name in frame.columns or c.required]
            frame.reindex(columns=cols).fillna("").to_csv(out / spec.filename, index=False)
        result = import_folder(engine, out)
    return result, converted


def infer_year(folder: Path) -> int | None:
    """The collection year holding the latest episode date (years run 1 April to 31 March)."""
    ret = read_folder(folder)
    frame = ret.tables.get("episodes")
    if frame is None:
        return None
    dates = [d for col in ("DECOM", "DEC") if col in frame for v in frame[col] if (d := parse_date(v)) is not None]
    if not dates:
        return None
    latest = max(dates)
    return latest.year + (1 if latest.month >= 4 else 0)


def _keep_what_the_903_lacks(conn: Any, converted: Converted, ids: list[str]) -> None:
    """Carry through what the store knows and the 903 does not: earlier SDQ scores, missing episodes
    already recorded, and the carer household of a past placement (same child, start and PLACE)."""
    t = converted.tables
    old_sdq = _store_rows(conn, FILES_BY_NAME["sdq_scores"], "child_id", ids)
    t["sdq_scores"] = (
        pd.concat([old_sdq, t["sdq_scores"].astype(str)], ignore_index=True)
        .drop_duplicates(["child_id", "assessed_on"], keep="last")
        .sort_values(["child_id", "assessed_on"], ignore_index=True)
    )
    old_missing = _store_rows(conn, FILES_BY_NAME["missing_episodes"], "child_id", ids)
    t["missing_episodes"] = pd.concat(
        [old_missing, t["missing_episodes"].astype(str)], ignore_index=True
    ).drop_duplicates(["child_id", "start_date", "kind"], keep="last")
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
