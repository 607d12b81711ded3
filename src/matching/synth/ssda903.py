"""The generated data as SSDA903 returns: one folder per local authority, as the DfE return is made.

``903/<LA>/`` holds ``header.csv``, ``episodes.csv``, ``uasc.csv``, ``oc2.csv`` and ``missing.csv`` with
the DfE column names and ``dd/mm/YYYY`` dates, for the 2025-26 collection (SEX as M/F/U, K3 and
Z11-Z14 in use), plus ``postcode_sectors.csv``: the grid reference of each (synthetic) postcode
sector used in HOME_POST and PL_POST. Sectors are made-up codes ``ZZeee nnnn`` (the kilometre
square); a real authority passes the ONS postcode directory instead. The first authority's return
is also written in the XML form (the DfE layout: UASC and AMISSING inside HEADER, the
placement code in PL), in ``903/<LA>-xml/ssda903.xml``. Dates of birth are the first of the month (the contract keeps
months only, as de-identified 903 extracts do).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

COLLECTION_YEAR = "2025-26"
HEADER = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODES = ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE",
            "HOME_POST", "PL_POST", "URN")  # fmt: skip
UASC = ("CHILD", "SEX", "DOB", "DUC")
OC2 = ("CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK",
       "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED", "INTERVENTION_OFFERED")  # fmt: skip
MISSING = ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")


def sector(easting: float, northing: float) -> str:
    """The synthetic postcode sector of a grid point (its kilometre square)."""
    return f"ZZ{int(easting) // 1000:03d} {int(northing) // 1000:04d}"


def _dmy(iso: pd.Series) -> pd.Series:
    d = pd.to_datetime(iso, errors="coerce")
    return d.dt.strftime("%d/%m/%Y").fillna("")


def _sectors(easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """:func:`sector` of each grid point (empty where unknown), formatting each kilometre square once."""
    e = np.asarray(easting, dtype=float)
    n = np.asarray(northing, dtype=float)
    known = ~(np.isnan(e) | np.isnan(n))
    key = np.full(len(e), -1, dtype=np.int64)
    key[known] = (e[known].astype(np.int64) // 1000) * 10_000 + n[known].astype(np.int64) // 1000
    uniq, inverse = np.unique(key, return_inverse=True)
    names = np.array([f"ZZ{k // 10_000:03d} {k % 10_000:04d}" if k >= 0 else "" for k in uniq], dtype=object)
    return names[inverse.reshape(-1)]


def export_903(tables: dict[str, pd.DataFrame], out: Path, *, xml: bool | None = None) -> int:
    """Write each authority's SSDA903 return under ``out``; return the number of files written.

    The XML form is written for the first authority (by code) unless ``xml`` says for every one or none:
    the generator exports each authority as it is made, and asks for the XML of the first alone.
    """
    children = tables["children"]
    placements = tables["placements"]
    households = tables["households"].set_index("household_id")
    sdq = tables["sdq_scores"]
    progress = tables["progress_records"]
    written = 0
    dob_all = children["birth_month"].astype(str) + "-01"
    dob_dmy = _dmy(dob_all)
    # Everything row-wise is computed once for the country, then sliced per authority (same bytes).
    la_of = pd.Series(children["la_code"].to_numpy(), index=children["child_id"].to_numpy())
    info_all = children.set_index("child_id")
    home_all = info_all.loc[placements["child_id"], ["home_easting", "home_northing"]].to_numpy(dtype=float)
    hid_all = placements["household_id"].fillna("").astype(str)
    known_all = (hid_all.isin(households.index) & (hid_all != "")).to_numpy()
    h_e_all = np.full(len(placements), np.nan)
    h_n_all = np.full(len(placements), np.nan)
    h_e_all[known_all] = households["easting"].reindex(hid_all[known_all].to_numpy()).to_numpy(dtype=float)
    h_n_all[known_all] = households["northing"].reindex(hid_all[known_all].to_numpy()).to_numpy(dtype=float)
    pl_all = pd.DataFrame(
        {
            "CHILD": placements["child_id"].to_numpy(),
            "DECOM": _dmy(placements["start_date"]).to_numpy(),
            "RNE": np.where(~placements["child_id"].duplicated(), "S", "P"),
            "LS": info_all.loc[placements["child_id"], "legal_status"].to_numpy(),
            "CIN": info_all.loc[placements["child_id"], "category_of_need"].to_numpy(),
            "PLACE": placements["place"].to_numpy(),
            "PLACE_PROVIDER": placements["place_provider"].fillna("").to_numpy(),
            "DEC": _dmy(placements["end_date"]).to_numpy(),
            "REC": np.where(placements["end_date"].fillna("").astype(str) != "", "X1", ""),
            "REASON_PLACE_CHANGE": placements["end_reason"].fillna("").to_numpy(),
            "HOME_POST": _sectors(home_all[:, 0], home_all[:, 1]),
            "PL_POST": _sectors(h_e_all, h_n_all),
            "URN": "",
        }
    )
    pl_rows = _positions(la_of.reindex(placements["child_id"].to_numpy()).to_numpy())
    latest_all = sdq.sort_values(["child_id", "assessed_on"]).groupby("child_id").tail(1)
    score_all = latest_all.set_index("child_id")["score"]
    missing_all = progress[progress["missing"] > 0]
    miss_rows_of = _positions(la_of.reindex(missing_all["child_id"].to_numpy()).to_numpy())
    for k, (la, kids) in enumerate(children.groupby("la_code", sort=True)):
        folder = out / str(la)
        folder.mkdir(parents=True, exist_ok=True)
        dob = dob_dmy.loc[kids.index]
        header = pd.DataFrame({"CHILD": kids["child_id"], "SEX": kids["sex"], "DOB": dob, "ETHNIC": kids["ethnicity"],
                               "UPN": "", "MOTHER": "", "MC_DOB": ""})  # fmt: skip
        rows = pl_rows.get(la, np.zeros(0, dtype=np.int64))
        episodes = pl_all.iloc[rows].reset_index(drop=True)
        uasc = kids[kids["uasc"].astype(str) == "true"]
        uasc_frame = pd.DataFrame({"CHILD": uasc["child_id"], "SEX": uasc["sex"], "DOB": dob_dmy.loc[uasc.index],
                                   "DUC": ""})  # fmt: skip
        oc2 = pd.DataFrame({"CHILD": kids["child_id"], "DOB": dob})
        oc2["SDQ_SCORE"] = [str(int(v)) if pd.notna(v) else "" for v in oc2["CHILD"].map(score_all)]
        oc2["SDQ_REASON"] = np.where(oc2["SDQ_SCORE"] == "", "SDQ4", "")
        for col in OC2[4:]:
            oc2[col] = "0"
        miss_rows: list[tuple[str, str, str, str, str]] = []
        mine = missing_all.iloc[miss_rows_of.get(la, np.zeros(0, dtype=np.int64))]
        dob_of = dict(zip(header["CHILD"], header["DOB"], strict=True))
        for child, month, n in zip(mine["child_id"], mine["month"], mine["missing"], strict=True):
            start = pd.Timestamp(f"{month}-01")
            for j in range(int(n)):
                s = start + pd.Timedelta(days=3 * j)
                miss_rows.append((child, dob_of[child], "M", s.strftime("%d/%m/%Y"),
                                  (s + pd.Timedelta(days=1)).strftime("%d/%m/%Y")))  # fmt: skip
        missing = pd.DataFrame(miss_rows, columns=list(MISSING))
        home = home_all[rows]
        points = np.vstack([home, np.column_stack([h_e_all[rows], h_n_all[rows]])])
        points = points[~np.isnan(points).any(axis=1)]
        codes_ = sorted(set(_sectors(points[:, 0], points[:, 1])))
        lookup = pd.DataFrame(
            {
                "sector": codes_,
                "easting": [int(c[2:5]) * 1000 + 500 for c in codes_],
                "northing": [int(c.split()[1]) * 1000 + 500 for c in codes_],
            }
        )
        frames = {"header": header, "episodes": episodes, "uasc": uasc_frame, "oc2": oc2, "missing": missing,
                  "postcode_sectors": lookup}  # fmt: skip
        for name, frame in frames.items():
            frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
            written += 1
        if (k == 0) if xml is None else xml:  # the same return in the XML form, beside it
            xml_folder = out / f"{la}-xml"
            xml_folder.mkdir(parents=True, exist_ok=True)
            _write_xml(xml_folder / "ssda903.xml", header, episodes, oc2, missing, uasc_frame)
            lookup.to_csv(xml_folder / "postcode_sectors.csv", index=False, lineterminator="\n")
            written += 2
    return written


def _positions(labels: np.ndarray) -> dict[object, np.ndarray]:
    """Row positions of each label, in row order."""
    groups = pd.Series(np.arange(len(labels))).groupby(labels, sort=False).indices
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def _write_xml(
    path: Path,
    header: pd.DataFrame,
    episodes: pd.DataFrame,
    oc2: pd.DataFrame,
    missing: pd.DataFrame,
    uasc: pd.DataFrame | None = None,
) -> None:
    """The XML form in the DfE layout: ``<EXPSSDA903><CHILD><HEADER>`` (CHILDID, SEX, DOB, ETHNIC, UPN,
    MOTHER, MC_DOB, UASC, DUC, OC2, AMISSING) then the child's ``<EPISODE>`` elements (placement in PL)."""
    root = ET.Element("EXPSSDA903")
    eps: dict[str, pd.DataFrame] = {str(c): g for c, g in episodes.groupby("CHILD", sort=False)}
    miss: dict[str, pd.DataFrame] = {str(c): g for c, g in missing.groupby("CHILD", sort=False)}
    duc = {} if uasc is None else dict(zip(uasc["CHILD"].astype(str), uasc["DUC"].astype(str), strict=True))
    oc = oc2.set_index("CHILD")
    for row in header.itertuples(index=False):
        child = ET.SubElement(root, "CHILD")
        head = ET.SubElement(child, "HEADER")
        for col, value in zip(HEADER, row, strict=True):
            ET.SubElement(head, "CHILDID" if col == "CHILD" else col).text = str(value)
        cid = str(row.CHILD)
        ET.SubElement(head, "UASC").text = "1" if cid in duc else "0"
        ET.SubElement(head, "DUC").text = duc.get(cid, "")
        o = ET.SubElement(head, "OC2")
        for col in ("SDQ_SCORE", "SDQ_REASON"):
            ET.SubElement(o, col).text = str(oc.at[row.CHILD, col])
        for m in miss.get(cid, pd.DataFrame()).itertuples(index=False):
            e = ET.SubElement(head, "AMISSING")
            for col in MISSING[2:]:
                ET.SubElement(e, col).text = str(getattr(m, col))
        for ep in eps.get(cid, pd.DataFrame()).itertuples(index=False):
            e = ET.SubElement(child, "EPISODE")
            for col in EPISODES[1:]:
                ET.SubElement(e, "PL" if col == "PLACE" else col).text = str(getattr(ep, col))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
