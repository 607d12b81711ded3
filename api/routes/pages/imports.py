"""Administration: importing a data folder (a .zip of the data contract's CSV files) or an SSDA903 return.

Each import runs the library's own importer (``matching import``'s :func:`~matching.store.importer.import_folder`,
``matching import-903``'s :func:`~matching.ssda903.importer.import_903`), all or nothing, in a worker thread.  An
upload is capped (:data:`MAX_UPLOAD_BYTES`, refused as a 413 page), unpacked into a temporary folder that is
removed afterwards: only files with a name the importer reads are written, under their own name and nowhere else
(no path from the upload is followed: a ``..``, an absolute path or a symbolic link refuses the upload), with
the number of files and the unpacked size limited (a .zip that unpacks to more than it said is refused).

The administrator imports only into the authorities of their remit: a return's authority is chosen from them
(403 otherwise); a data folder whose children, households or authorities belong to another authority is refused
(422, naming the codes) before anything is read into the store.  A refused import lists every problem the
importer found (file, row, column, value, what was expected): nothing else of the upload is shown back.  The
request is audited as every page request is, its detail saying what was imported (never a child's data).
"""

from __future__ import annotations

import csv
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import Access, Caller
from api.offload import limiter
from api.routes.pages.common import check_csrf
from api.templating import page_context, templates
from matching.access import Permission
from matching.audit.chain import utc
from matching.contract.spec import FILES
from matching.contract.validate import ContractError, Problem
from matching.domain import Scope
from matching.ssda903 import rules
from matching.ssda903.read import READABLE_SUFFIXES
from matching.store import schema
from matching.wording import counted

router = APIRouter(prefix="/pages/admin", tags=["pages"], include_in_schema=False)

IMPORTS_PAGE = Access(Permission.IMPORT_DATA, page=True)
ImportsPage = Annotated[Caller, Depends(IMPORTS_PAGE)]

#: The largest upload (the whole form), in bytes.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: The most files an upload may hold (the files sent and the members of each .zip together).
MAX_FILES = 64
#: The most a .zip's members may hold, unpacked, in bytes (a zip bomb stops here).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
#: The most entries a .zip may list (files skipped included).
MAX_ZIP_ENTRIES = 1000
#: How many latest imports the page lists.
LATEST = 10
#: The most problems listed on the page (the importer lists every one; the count says how many in all).
MAX_PROBLEMS_SHOWN = 2000
#: The kinds of import: the form's ``kind`` -> its file field.
KINDS = {"folder": "folder_files", "ssda903": "return_files"}
#: A name a file is written under: letters, digits, spaces, dots, dashes, underscores and brackets.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}$")
#: An authority's code, as a refusal may name it.
_CODE = re.compile(r"^[A-Za-z0-9-]{1,16}$")
_CONTRACT_FILES = {spec.filename.lower(): spec.filename for spec in FILES}
#: Upload folders are made under names starting so (the latest imports say "uploaded here" for them).
_UPLOAD_PREFIX = "matching-upload-"
#: What each table holds, in words.
TABLE_WORDS = {
    "local_authorities": "Local authorities",
    "agencies": "Fostering services",
    "households": "Carer households",
    "household_members": "Household members",
    "carer_training": "Carers' training",
    "children": "Children",
    "child_needs": "Children's needs",
    "sdq_scores": "SDQ scores",
    "referrals": "Referrals",
    "placements": "Placements",
    "progress_records": "Progress records",
    "missing_episodes": "Missing episodes",
}


class RefusedError(Exception):
    """An upload refused before the importer read it: the field it was sent in, and why (never its content)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass
class Unpacked:
    """What an upload wrote into its folder."""

    files: int = 0
    skipped: int = 0
    names: set[str] = field(default_factory=set)


def table_words(name: str) -> str:
    """A table of the store, in words."""
    return TABLE_WORDS.get(name, name.replace("_", " ").capitalize())


# --- unpacking ---------------------------------------------------------------------------------------------------


def contract_name(name: str) -> str | None:
    """The contract file ``name`` is (its own spelling), or None when the data contract has no such file."""
    return _CONTRACT_FILES.get(name.lower())


def return_name(name: str) -> str | None:
    """``name`` when the SSDA903 reader reads such a file (CSV, text, TSV or XML), else None."""
    return name if Path(name).suffix.lower() in READABLE_SUFFIXES else None


def _parts(name: str, field_name: str) -> list[str]:
    """The parts of a path sent in an upload; refuses one that leaves its folder."""
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise RefusedError(field_name, "A file's path is absolute: send the files themselves, or a .zip of a folder")
    parts = [p for p in re.split(r"[\\/]+", name) if p not in ("", ".")]
    if ".." in parts:
        raise RefusedError(field_name, "A file's path leaves its folder (it holds ..): nothing was imported")
    return parts


def _writable(name: str, field_name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise RefusedError(
            field_name,
            "A file's name has characters other than letters, digits, spaces, dots, dashes and underscores: "
            "rename it and send it again",
        )
    return name


def _copy(src: IO[bytes], dest: Path, field_name: str, budget: list[int], declared: int | None = None) -> None:
    """Copy ``src`` to the new file ``dest``, within the unpacked budget (and, for a .zip member, its declared
    size: a member that unpacks to more than it said is a zip bomb)."""
    written = 0
    try:
        out = dest.open("xb")
    except FileExistsError:
        raise RefusedError(field_name, "Two files have the same name: send each file once") from None
    with out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or (declared is not None and written > declared):
                raise RefusedError(
                    field_name,
                    f"The files unpack to more than {MAX_UNPACKED_BYTES >> 20} MB, or to more than the .zip said: "
                    "nothing was imported",
                )
            out.write(chunk)


def _unzip(
    src: IO[bytes],
    dest: Path,
    accept: Callable[[str], str | None],
    field_name: str,
    unpacked: Unpacked,
    budget: list[int],
) -> None:
    try:
        archive = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RefusedError(field_name, "The .zip file cannot be opened: make it again and send it") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise RefusedError(field_name, f"The .zip holds more than {MAX_ZIP_ENTRIES:,} entries")
        chosen: list[tuple[zipfile.ZipInfo, str]] = []
        for info in entries:
            parts = _parts(info.filename, field_name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise RefusedError(field_name, "The .zip holds a symbolic link: send the files themselves")
            if info.is_dir() or not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                continue
            if info.flag_bits & 0x1:
                raise RefusedError(field_name, "The .zip is encrypted: make it without a password")
            name = accept(parts[-1])
            if name is None:
                unpacked.skipped += 1
                continue
            chosen.append((info, _writable(name, field_name)))
        if unpacked.files + len(chosen) > MAX_FILES:
            raise RefusedError(field_name, f"The upload holds more than {MAX_FILES} files")
        if sum(info.file_size for info, _ in chosen) > budget[0]:
            raise RefusedError(field_name, f"The files unpack to more than {MAX_UNPACKED_BYTES >> 20} MB")
        for info, name in chosen:
            try:
                with archive.open(info) as member:
                    _copy(member, dest / name, field_name, budget, declared=info.file_size)
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
                raise RefusedError(field_name, "A file in the .zip cannot be unpacked: make it again") from None
            unpacked.files += 1
            unpacked.names.add(name)


def unpack(
    uploads: list[tuple[str, IO[bytes]]], dest: Path, accept: Callable[[str], str | None], field_name: str
) -> Unpacked:
    """Write the files the importer reads from ``uploads`` (files sent, and the members of .zip files sent) into
    ``dest``, each under its own name; RefusedError for a path leaving the folder, an absolute path, a symbolic
    link, too many files or too much unpacked, or two files of one name."""
    unpacked = Unpacked()
    budget = [MAX_UNPACKED_BYTES]
    for sent_name, src in uploads:
        parts = _parts(sent_name, field_name)
        base = parts[-1]
        if base.lower().endswith(".zip"):
            _unzip(src, dest, accept, field_name, unpacked, budget)
            continue
        name = accept(base)
        if name is None:
            unpacked.skipped += 1
            continue
        if unpacked.files >= MAX_FILES:
            raise RefusedError(field_name, f"The upload holds more than {MAX_FILES} files")
        _copy(src, dest / _writable(name, field_name), field_name, budget)
        unpacked.files += 1
        unpacked.names.add(name)
    return unpacked


# --- the remit ---------------------------------------------------------------------------------------------------


def folder_authorities(folder: Path) -> set[str]:
    """The authorities a data folder writes to: its local authorities, and those its children and households
    belong to (``la_code``; blanks left out)."""
    found: set[str] = set()
    for filename in ("local_authorities.csv", "children.csv", "households.csv"):
        path = folder / filename
        if not path.exists():
            continue
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh):
                code = (row.get("la_code") or "").strip()
                if code:
                    found.add(code)
    return found


def outside_remit(scope: Scope, codes: set[str]) -> list[str]:
    """The codes among ``codes`` outside the remit, as a refusal may show them (an odd one as "a code that is not
    valid")."""
    if scope.la_codes is None:
        return []
    return sorted({c if _CODE.match(c) else "a code that is not valid" for c in codes if c not in scope.la_codes})


# --- reading the page's data -------------------------------------------------------------------------------------


def source_words(source: str) -> str:
    """Where an import came from, in words (an upload's temporary folder is not a place anyone can find)."""
    if f"{_UPLOAD_PREFIX}folder" in source:
        return "A data folder uploaded on this page"
    if f"{_UPLOAD_PREFIX}ssda903" in source or "/ssda903-" in source:
        return "An SSDA903 return"
    name = Path(source).name
    return f"The folder {name}" if name else "A folder"


def latest_imports(engine: Engine) -> list[dict[str, Any]]:
    """The latest imports (when, where from, rows by table): no child is named."""
    t = schema.import_run
    with engine.connect() as conn:
        runs = conn.execute(select(t).order_by(t.c.id.desc()).limit(LATEST)).mappings().all()
    out = []
    for r in runs:
        rows = {str(k): int(v) for k, v in (r["rows"] or {}).items()}
        out.append(
            {
                "id": r["id"],
                "when": utc(r["finished_at"]).strftime("%Y-%m-%d %H:%M UTC"),
                "source": source_words(str(r["source"])),
                "total": sum(rows.values()),
                "tables": [(table_words(k), v) for k, v in rows.items() if v],
            }
        )
    return out


def authorities_in_remit(engine: Engine, scope: Scope) -> list[tuple[str, str]]:
    """The store's authorities in the remit: (code, "Name (code)")."""
    t = schema.local_authority
    stmt = select(t.c.la_code, t.c.name).order_by(t.c.name, t.c.la_code)
    if scope.la_codes is not None:
        stmt = stmt.where(t.c.la_code.in_(sorted(scope.la_codes)))
    with engine.connect() as conn:
        return [(code, f"{name} ({code})") for code, name in conn.execute(stmt)]


def _years() -> list[tuple[str, str]]:
    return [(str(y), rules.year_label(y)) for y in range(rules.LAST_YEAR, rules.FIRST_YEAR - 1, -1)]


def _problem_row(p: Problem, folder_name: str) -> dict[str, str]:
    """A problem as the page lists it: the importer's own fields, nothing else."""
    column = p.column or ""
    return {
        "file": "The upload as a whole" if p.file in (folder_name, "") else p.file,
        "row": f"{p.row:,}" if p.row is not None else "",
        "column": "The authority" if column == "--la" else column,
        "value": "" if p.value is None else str(p.value)[:200],
        "expected": p.expected,
    }


async def _page(
    request: Request,
    caller: Caller,
    *,
    form: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    problems: dict[str, Any] | None = None,
    done: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    engine: Engine = request.app.state.engine
    imports, authorities = await run_in_threadpool(
        lambda: (latest_imports(engine), authorities_in_remit(engine, caller.scope))
    )
    errors = errors or []
    response = templates.TemplateResponse(
        request,
        "admin_imports.html",
        {
            **page_context(request),
            "imports": imports,
            "authorities": authorities,
            "years": _years(),
            "form": form or {},
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "problems": problems,
            "done": done,
            "max_mb": MAX_UPLOAD_BYTES >> 20,
            "max_files": MAX_FILES,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/imports", response_class=HTMLResponse)
async def imports(request: Request, caller: ImportsPage) -> Response:
    """The forms to import a data folder or an SSDA903 return, and the latest imports."""
    return await _page(request, caller)


# --- the upload --------------------------------------------------------------------------------------------------

_TOO_LARGE = f"The files are larger than {MAX_UPLOAD_BYTES >> 20} MB in all: send a smaller .zip, or fewer files"


async def _read_upload(request: Request) -> tuple[dict[str, str], list[UploadFile], Any]:
    """The form's text fields (first of each) and its files, within :data:`MAX_UPLOAD_BYTES` (413 otherwise,
    refused before reading when the request says its length)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.strip().isdigit() or int(length) > MAX_UPLOAD_BYTES):
        raise HTTPException(status_code=413, detail=_TOO_LARGE)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise HTTPException(status_code=415, detail="send the form from the page itself (as multipart/form-data)")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=10, max_part_size=64 * 1024)
    except HTTPException as exc:
        if exc.status_code == 413:  # longer than it said: stopped while reading
            raise HTTPException(status_code=413, detail=_TOO_LARGE) from None
        raise HTTPException(status_code=400, detail="the form could not be read: send it again from the page") from None
    fields: dict[str, str] = {}
    files: list[UploadFile] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key == KINDS.get(str(form.get("kind") or "")) and (value.filename or value.size):
                files.append(value)
        elif key not in fields:
            fields[key] = value[:200]
    if sum(f.size or 0 for f in files) > MAX_UPLOAD_BYTES:
        await form.close()
        raise HTTPException(status_code=413, detail=_TOO_LARGE)
    return fields, files, form


@dataclass
class Outcome:
    """What an import did: its banner, or its problems, or why it was refused."""

    done: dict[str, Any] | None = None
    problems: dict[str, Any] | None = None
    refused: RefusedError | None = None
    detail: str = ""


def _run(
    engine: Engine,
    kind: str,
    uploads: list[tuple[str, IO[bytes]]],
    scope: Scope,
    la_code: str,
    year: int | None,
    la_name: str,
) -> Outcome:
    """Unpack the upload into a temporary folder and import it, all or nothing (in a worker thread)."""
    field_name = KINDS[kind]
    with tempfile.TemporaryDirectory(prefix=f"{_UPLOAD_PREFIX}{kind}-") as tmp:
        folder = Path(tmp) / "upload"
        folder.mkdir()
        try:
            unpacked = unpack(uploads, folder, contract_name if kind == "folder" else return_name, field_name)
        except RefusedError as exc:
            return Outcome(refused=exc, detail=f"{kind}: upload refused")
        if not unpacked.files:
            what = (
                "no file of the data contract (children.csv, households.csv, ...)"
                if kind == "folder"
                else "no CSV or XML file of an SSDA903 return"
            )
            return Outcome(refused=RefusedError(field_name, f"The upload holds {what}"), detail=f"{kind}: empty")
        if kind == "folder":
            return _import_folder(engine, folder, scope, unpacked)
        return _import_return(engine, folder, la_code, year, la_name, unpacked)


def _problems(exc: ContractError, folder: Path, what: str) -> dict[str, Any]:
    found = exc.report.problems
    return {
        "what": what,
        "count": len(found),
        "rows": [_problem_row(p, folder.name) for p in found[:MAX_PROBLEMS_SHOWN]],
        "shown": min(len(found), MAX_PROBLEMS_SHOWN),
    }


def _import_folder(engine: Engine, folder: Path, scope: Scope, unpacked: Unpacked) -> Outcome:
    from matching.store.importer import import_folder

    outside = outside_remit(scope, folder_authorities(folder))
    if outside:
        return Outcome(
            refused=RefusedError(
                "folder_files",
                f"The data folder holds children, households or authorities of {', '.join(outside[:20])}, "
                "outside your remit: nothing was imported",
            ),
            detail=f"data folder refused: authorities outside the remit ({len(outside)})",
        )
    try:
        result = import_folder(engine, folder)
    except ContractError as exc:
        n = len(exc.report.problems)
        return Outcome(
            problems=_problems(exc, folder, "the data folder"),
            detail=f"data folder: {counted(n, 'problem')}, nothing imported",
        )
    total = sum(result.rows.values())
    return Outcome(
        done={
            "title": "Data folder imported",
            "text": f"{counted(total, 'row')} from {counted(unpacked.files, 'file')}, in one transaction.",
            "tables": [(table_words(k), v) for k, v in result.rows.items()],
            "notes": [f"{counted(unpacked.skipped, 'file')} in the upload not read: not files of the data contract."]
            if unpacked.skipped
            else [],
        },
        detail=f"data folder {result.source_sha256[:16]}: {total} rows",
    )


def _import_return(
    engine: Engine, folder: Path, la_code: str, year: int | None, la_name: str, unpacked: Unpacked
) -> Outcome:
    from matching.ssda903.importer import import_903, infer_year

    which = year if year is not None else infer_year(folder)
    if which is None:
        return Outcome(
            refused=RefusedError(
                "year", "The return has no episode with a date, so its collection year is unknown: choose the year"
            ),
            detail=f"SSDA903 return of {la_code}: no collection year",
        )
    label = rules.year_label(which)
    try:
        result, converted = import_903(engine, folder, la_code=la_code, year=which)
    except ContractError as exc:
        n = len(exc.report.problems)
        return Outcome(
            problems=_problems(exc, folder, f"the {label} SSDA903 return"),
            detail=f"SSDA903 return of {la_code}, {label}: {counted(n, 'problem')}, nothing imported",
        )
    notes = []
    if converted.warnings:
        notes.append(f"{counted(len(converted.warnings), 'warning')} (the return was imported; the CLI lists them).")
    skipped = unpacked.skipped + len(converted.skipped)
    if skipped:
        notes.append(f"{counted(skipped, 'file')} in the upload not read: not a table of an SSDA903 return.")
    if converted.outcomes:
        notes.append(
            f"{counted(converted.outcomes, 'outcome')} of recorded decisions read from the return "
            "(placements started or ended)."
        )
    return Outcome(
        done={
            "title": f"SSDA903 return of {la_name} for {label} imported",
            "text": f"{counted(converted.children, 'child', 'children')} and "
            f"{counted(converted.episodes, 'episode')}, in one transaction.",
            "tables": [(table_words(k), v) for k, v in result.rows.items()],
            "notes": notes,
        },
        detail=f"SSDA903 return of {la_code}, {label}: {sum(result.rows.values())} rows",
    )


def _form_errors(kind: str, fields: dict[str, str], files: list[UploadFile]) -> list[dict[str, str]]:
    wrong: list[tuple[str, str]] = []
    if not files:
        wrong.append(
            (KINDS[kind], "Choose the .zip of the data folder" if kind == "folder" else "Choose the return's files")
        )
    if kind == "ssda903":
        if not fields.get("la_code"):
            wrong.append(("la_code", "Choose the authority making the return"))
        year = fields.get("year", "")
        if year:
            try:
                rules.collection_year(year)
            except ValueError:
                wrong.append(("year", "Choose a collection year from the list"))
    return [{"field": f, "href": f"#{f}", "text": t} for f, t in wrong]


@router.post("/imports", response_class=HTMLResponse)
async def import_upload(request: Request, caller: ImportsPage) -> Response:
    """Import the uploaded data folder or SSDA903 return, all or nothing: its problems listed (422), or what it
    brought (and it is among the latest imports)."""
    fields, files, form = await _read_upload(request)
    try:
        check_csrf(request, fields)
        kind = fields.get("kind", "")
        if kind not in KINDS:
            raise HTTPException(status_code=422, detail="send the form from the page itself")
        shown = {"kind": kind, "la_code": fields.get("la_code", ""), "year": fields.get("year", "")}
        errors = _form_errors(kind, fields, files)
        la_code = fields.get("la_code", "")
        la_name = la_code
        if kind == "ssda903" and la_code:
            allowed = dict(await run_in_threadpool(authorities_in_remit, request.app.state.engine, caller.scope))
            if la_code not in allowed and not caller.scope.sees_child(la_code):
                raise HTTPException(status_code=403, detail="that authority is outside your remit")
            if la_code not in allowed:
                errors.append({"field": "la_code", "href": "#la_code", "text": "Choose an authority in the store"})
            la_name = allowed.get(la_code, la_code)
        if errors:
            caller.note.detail = f"{kind}: form incomplete"
            return await _page(request, caller, form=shown, errors=errors, status=422)
        year = rules.collection_year(fields["year"]) if kind == "ssda903" and fields.get("year") else None
        uploads: list[tuple[str, IO[bytes]]] = [(f.filename or "", f.file) for f in files]
        engine: Engine = request.app.state.engine
        outcome = await anyio.to_thread.run_sync(
            lambda: _run(engine, kind, uploads, caller.scope, la_code, year, la_name), limiter=limiter(request.app)
        )
    finally:
        await form.close()
    caller.note.detail = outcome.detail
    if outcome.refused is not None:
        e = outcome.refused
        return await _page(
            request, caller, form=shown, errors=[{"field": e.field, "href": f"#{e.field}", "text": e.message}],
            status=e.status,
        )  # fmt: skip
    if outcome.problems is not None:
        p = outcome.problems
        text = f"{counted(p['count'], 'problem')} in {p['what']}: nothing was imported"
        errors = [{"field": KINDS[kind], "href": "#problems", "text": text[:1].upper() + text[1:]}]
        return await _page(request, caller, form=shown, errors=errors, problems=p, status=422)
    return await _page(request, caller, done=outcome.done)
